"""A real `gfm serve` process on 127.0.0.1 (a free port) for the browser and load tests."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].rstrip("/"))

    def peak_memory_mb(self) -> float:
        """The server process's peak resident memory (VmHWM), in MiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("VmHWM not found")


@contextlib.contextmanager
def gfm_serve(checkpoint: Path, *extra: str, startup_s: float = 180.0) -> Iterator[LiveServer]:
    """Start ``gfm serve --model CHECKPOINT --port 0 ...`` and yield it once it answers."""
    command = [sys.executable, "-m", "gfm.cli.main", "serve", "--model", str(checkpoint), "--port", "0", "--device", "cpu", *extra]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    server = LiveServer("", process)
    ready = threading.Event()

    def drain() -> None:  # read the log continuously, so that the pipe never fills up
        assert process.stderr is not None
        for line in process.stderr:
            server.log.append(line)
            found = re.search(r"open (http://127\.0\.0\.1:\d+)/", line)
            if found:
                server.url = found.group(1)
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    try:
        ready.wait(startup_s)
        if not server.url:
            raise RuntimeError("gfm serve did not start:\n" + "".join(server.log))
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(server.url + "/api/health", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
