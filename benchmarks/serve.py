"""`gfm serve` latency and load: a first matte, a guided correction, concurrent clients.

    python benchmarks/serve.py                              # random-weight r34-TT, examples/original/sample6.jpg
    python benchmarks/serve.py --model gfm-r34-tt --requests 40 --clients 4

Starts a real ``gfm serve`` on 127.0.0.1 (a free port) and measures, from the
client's side:

1. a first matte: upload, decode, network, fusion, foreground colours, PNG (``--repeat`` times);
2. a correction of that image with a hint map (no network pass);
3. previews: ``--previews`` corrections of a large photo (``--large``, default 2700x4050,
   the example upscaled), each at another ``max_side`` as a page being resized asks:
   the sessions' counted bytes (``/api/health``) against the server's resident memory;
4. load: ``--requests`` uploads from ``--clients`` concurrent clients: status
   counts (200 / designed 503), latency percentiles of the served ones, and the
   server's peak resident memory (VmHWM);
5. memory: the server's resident memory (VmRSS) after the warm-up (baseline), at its
   peak, and after every session was deleted (it should come back near the baseline).

A random-weight network costs the same time as trained weights of the variant.
Loopback only; a fixed number of requests; stops by itself.
"""

from __future__ import annotations

import argparse
import http.client
import io
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

EXAMPLE = Path(__file__).parents[1] / "examples" / "original" / "sample6.jpg"


def start_server(model: str, queue: int) -> tuple[subprocess.Popen[str], int, list[str]]:
    command = [sys.executable, "-m", "gfm.cli.main", "serve", "--model", model, "--port", "0", "--queue", str(queue), "-q"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log: list[str] = []
    port: list[int] = []
    ready = threading.Event()

    def drain() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            log.append(line)
            found = re.search(r"open http://127\.0\.0\.1:(\d+)/", line)
            if found:
                port.append(int(found.group(1)))
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    ready.wait(300)
    if not port:
        process.kill()
        raise SystemExit("gfm serve did not start:\n" + "".join(log))
    return process, port[0], log


def request(port: int, method: str, path: str, body: bytes | None = None, content_type: str = "image/jpeg") -> tuple[int, dict[str, str], bytes, float]:
    start = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        headers = {"Content-Type": content_type} if body is not None else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        content = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, content, time.perf_counter() - start
    finally:
        connection.close()


def peak_memory_mib(pid: int, field: str = "VmHWM") -> float:
    """The process's peak (VmHWM) or current (VmRSS) resident memory, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def resident_mib(pid: int) -> float:
    return peak_memory_mib(pid, "VmRSS")


def health(port: int) -> dict:
    import json

    return json.loads(request(port, "GET", "/api/health")[2])


def hint_png(width: int, height: int) -> bytes:
    """Foreground in the middle third, background along the top: gray + transparency."""
    gray = np.zeros((height, width), np.uint8)
    opacity = np.zeros((height, width), np.uint8)
    gray[height // 3 : 2 * height // 3, width // 3 : 2 * width // 3] = 255
    opacity[height // 3 : 2 * height // 3, width // 3 : 2 * width // 3] = 255
    opacity[: height // 10] = 255
    buffer = io.BytesIO()
    Image.fromarray(np.dstack([gray, opacity]), "LA").save(buffer, format="PNG")
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="weights name or checkpoint (default: a random-weight r34-TT)")
    parser.add_argument("--image", type=Path, default=EXAMPLE)
    parser.add_argument("--output", default="cutout", choices=["cutout", "alpha", "composite"])
    parser.add_argument("--repeat", type=int, default=3, help="first mattes and corrections timed (default 3)")
    parser.add_argument("--requests", type=int, default=24)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--queue", type=int, default=8)
    parser.add_argument("--max-side", type=int, help="ask for previews of this size, as the page does (default: full size)")
    parser.add_argument("--previews", type=int, default=30, help="corrections of the large photo at distinct max_side (default 30; 0: skip)")
    parser.add_argument("--large", default="2700x4050", help="WIDTHxHEIGHT of the large photo (default 2700x4050)")
    args = parser.parse_args()

    photo = args.image.read_bytes()
    with Image.open(args.image) as opened:
        width, height = opened.size
    with tempfile.TemporaryDirectory() as folder:
        model = args.model
        if model is None:
            import gfm

            model = str(gfm.save_checkpoint(gfm.create_model("r34", "TT"), Path(folder) / "r34_tt_random.pth"))
        process, port, log = start_server(model, args.queue)
        try:
            preview = f"&max_side={args.max_side}" if args.max_side else ""
            path = f"/api/matte?output={args.output}{preview}"
            request(port, "POST", path, photo)  # warm-up: first-call costs of PyTorch and pymatting
            print(f"{args.image.name} ({width}x{height}), output {args.output}{preview}, model {model}")
            session = ""
            for _ in range(args.repeat):
                status, headers, _, seconds = request(port, "POST", path, photo)
                session = headers.get("x-gfm-session", "")
                print(f"  first matte  {status}  {seconds * 1000:7.0f} ms   server: {headers.get('server-timing')}")
            hint = hint_png(width, height)
            for _ in range(args.repeat):
                status, headers, _, seconds = request(port, "POST", f"/api/sessions/{session}/matte?output={args.output}{preview}", hint, "image/png")
                print(f"  correction   {status}  {seconds * 1000:7.0f} ms   server: {headers.get('server-timing')}")
                # back to no hint, so that the next correction is computed again, not taken from the session's cache
                request(port, "POST", f"/api/sessions/{session}/matte?output=alpha", None)

            sessions = {session}
            baseline = resident_mib(process.pid)
            print(f"  memory after the warm-up (baseline): {baseline:.0f} MiB resident")

            if args.previews:
                large_width, large_height = (int(v) for v in args.large.lower().split("x"))
                with Image.open(args.image) as opened:
                    big = opened.convert("RGB").resize((large_width, large_height))
                buffer = io.BytesIO()
                big.save(buffer, format="JPEG", quality=90)
                status, headers, _, seconds = request(port, "POST", "/api/matte?output=alpha&max_side=800", buffer.getvalue())
                large_session = headers.get("x-gfm-session", "")
                sessions.add(large_session)
                for index in range(args.previews):  # a window resized: max_side = its size x the pixel ratio
                    side = 600 + 17 * index
                    request(port, "POST", f"/api/sessions/{large_session}/matte?output=cutout&max_side={side}", None)
                counted = health(port)["session_bytes"] / 2**20
                print(f"  previews: {args.previews} corrections of a {large_width}x{large_height} photo at distinct max_side: "
                      f"sessions counted {counted:.0f} MiB, server resident {resident_mib(process.pid):.0f} MiB")

            start = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                results = list(pool.map(lambda _: request(port, "POST", path, photo), range(args.requests)))
            during = resident_mib(process.pid)
            sessions |= {r[1].get("x-gfm-session", "") for r in results if r[0] == 200}
            wall = time.perf_counter() - start
            statuses = [r[0] for r in results]
            served = [r[3] for r in results if r[0] == 200]
            other = sorted(set(statuses) - {200, 503})
            print(f"  load: {args.requests} requests, {args.clients} clients, queue {args.queue}: "
                  f"{statuses.count(200)} x 200, {statuses.count(503)} x 503{', other: ' + str(other) if other else ''}; "
                  f"{statuses.count(200) / wall:.2f} images/s")
            if served:
                p50, p90, p99 = np.percentile(served, [50, 90, 99])
                print(f"  latency of served requests: p50 {p50 * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {max(served) * 1000:.0f} ms")
            print(f"  server peak resident memory: {peak_memory_mib(process.pid):.0f} MiB")
            counted = health(port)["session_bytes"] / 2**20
            for dropped in sorted(sessions - {""}):
                request(port, "DELETE", f"/api/sessions/{dropped}")
            time.sleep(1.0)
            after = resident_mib(process.pid)
            print(f"  memory: baseline {baseline:.0f} MiB, right after the load {during:.0f} MiB (sessions counted {counted:.0f} MiB), "
                  f"peak {peak_memory_mib(process.pid):.0f} MiB, after deleting the {len(sessions - {''})} sessions {after:.0f} MiB "
                  f"({after - baseline:+.0f} MiB from the baseline); sessions left: {health(port)['sessions']}")
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
