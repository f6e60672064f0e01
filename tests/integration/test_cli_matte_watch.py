"""gfm matte --watch: a real process, photos arriving (slowly, broken, replaced) while it runs."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

import gfm
from gfm.io.watch import FolderWatcher

EXAMPLES = Path(__file__).parents[2] / "examples" / "original"


class Lines:
    """A process's output lines, read continuously on a thread."""

    def __init__(self, stream) -> None:  # type: ignore[no-untyped-def]
        self.lines: list[str] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, check: Callable[[list[str]], bool], what: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not check(self.lines):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; output so far: {self.lines}")
            time.sleep(0.05)

    def about(self, name: str) -> list[str]:
        return [line for line in self.lines if Path(line.split(" ", 1)[0].rstrip(":")).name == name]


def _small_jpeg(source: Path, target: Path, size: tuple[int, int]) -> bytes:
    Image.open(source).convert("RGB").resize(size).save(target.with_suffix(".tmpjpg"), format="JPEG", quality=90)
    data = target.with_suffix(".tmpjpg").read_bytes()
    target.with_suffix(".tmpjpg").unlink()
    return data


@pytest.mark.slow
def test_watch_mattes_arrivals_once_complete_never_its_outputs_and_survives_bad_files(tmp_path: Path) -> None:
    checkpoint = gfm.save_checkpoint(gfm.create_model("tiny", "TT"), tmp_path / "tiny.pth")
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    a_first = _small_jpeg(EXAMPLES / "sample2.jpg", tmp_path / "a.jpg", (160, 240))
    (incoming / "a.jpg").write_bytes(a_first)  # there before the watch starts
    # -X faulthandler: if it ever fails to stop, SIGABRT makes it print every thread's stack
    command = [sys.executable, "-X", "faulthandler", "-m", "gfm.cli.main", "matte", str(incoming), "--out", str(incoming), "--watch",
               "--model", str(checkpoint), "-q", "--foreground", "none"]  # outputs into the watched folder itself
    # Ctrl-C as in a terminal: a test run started in the background (`nohup ... &`) passes SIGINT
    # on as ignored, and Python then installs no KeyboardInterrupt handler; that made this hang.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"},
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    out, err = Lines(process.stdout), Lines(process.stderr)
    try:
        out.wait_for(lambda lines: len(out.about("a.jpg")) == 1, "the photo already there")
        assert "a_alpha.png, a_cutout.png" in out.about("a.jpg")[0]
        assert any("watching" in line for line in err.lines)

        # a photo written slowly, in two halves: matted once, when complete
        b = _small_jpeg(EXAMPLES / "sample6.jpg", tmp_path / "b.jpg", (200, 150))
        with open(incoming / "b.jpg", "wb") as file:
            file.write(b[: len(b) // 2])
            file.flush()
            time.sleep(1.5)
            file.write(b[len(b) // 2 :])
        out.wait_for(lambda lines: out.about("b.jpg"), "the slowly written photo")
        with Image.open(incoming / "b_cutout.png") as cut:
            assert cut.size == (200, 150) and cut.mode == "RGBA"

        # a broken file is reported, and the watch goes on
        (incoming / "broken.jpg").write_bytes(b"\xff\xd8 this is not a photo")
        out.wait_for(lambda lines: out.about("broken.jpg"), "the broken file")
        assert "failed" in out.about("broken.jpg")[0]

        # a replaced photo is matted again (its earlier outputs replaced: they are gfm matte's own)
        time.sleep(0.1)
        (incoming / "a.jpg").write_bytes(_small_jpeg(EXAMPLES / "sample6.jpg", tmp_path / "a2.jpg", (120, 90)))
        out.wait_for(lambda lines: len(out.about("a.jpg")) == 2, "the replaced photo")
        with Image.open(incoming / "a_cutout.png") as cut:
            assert cut.size == (120, 90)
        time.sleep(1.5)  # give it time to (wrongly) pick up its own outputs
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)  # the stacks, on its standard error
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
            time.sleep(0.5)  # let the reader thread take the last lines
            raise AssertionError("gfm matte --watch did not stop within 60 s of Ctrl-C; its standard error:\n" + "\n".join(err.lines[-80:])) from None
    assert code == 1  # the broken file failed
    assert len(out.lines) == 4, out.lines  # a, b, broken, a again: nothing else (never its own outputs)
    err.wait_for(lambda lines: any("stopped watching" in line for line in lines), "the summary", timeout=10)
    assert any("3 matted, 0 skipped, 1 failed" in line for line in err.lines)
    assert sorted(p.name for p in incoming.iterdir()) == ["a.jpg", "a_alpha.png", "a_cutout.png", "b.jpg", "b_alpha.png", "b_cutout.png", "broken.jpg"]


def test_polling_hands_out_each_file_once_it_is_complete(tmp_path: Path) -> None:
    """The fallback without watchdog: sizes and times only (scan's clock given)."""
    watcher = FolderWatcher(tmp_path, lambda p: p.suffix == ".jpg", settle_s=0.5, use_events=False)
    assert watcher.mode == "polling"
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"12")
    assert watcher.scan(now=0.0) == []  # seen; not settled yet
    photo.write_bytes(b"1234")  # still being written
    assert watcher.scan(now=0.6) == []
    assert watcher.scan(now=0.9) == []
    assert watcher.scan(now=1.2) == [photo]  # unchanged for 0.6 s
    assert watcher.scan(now=5.0) == []  # handed out once
    (tmp_path / "note.txt").write_bytes(b"x")
    (tmp_path / "empty.jpg").write_bytes(b"")
    assert watcher.scan(now=6.0) == [] and watcher.scan(now=7.0) == []  # not accepted; empty files wait
    photo.write_bytes(b"123456")  # replaced
    os.utime(photo, ns=(1, 1))
    assert watcher.scan(now=8.0) == []
    assert watcher.scan(now=9.0) == [photo]
    photo.unlink()
    assert watcher.scan(now=10.0) == []
    photo.write_bytes(b"123456")
    os.utime(photo, ns=(1, 1))  # the same size and time as before its deletion: still new
    watcher.scan(now=11.0)
    assert watcher.scan(now=12.0) == [photo]


def test_a_deferred_file_comes_back_when_it_changes_or_after_the_wait(tmp_path: Path) -> None:
    watcher = FolderWatcher(tmp_path, lambda p: True, settle_s=0.5, use_events=False)
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"half")
    watcher.scan(now=0.0)
    assert watcher.scan(now=1.0) == [photo]
    watcher.defer(photo, 60.0)  # unreadable: perhaps its writer paused
    assert watcher.scan() == []  # unchanged: not before 60 s
    photo.write_bytes(b"half and the rest")
    watcher.scan(now=time.monotonic())
    assert watcher.scan(now=time.monotonic() + 1.0) == [photo]  # changed, settled: at once


def test_watch_refuses_what_it_cannot_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gfm.cli.main import main

    photo = Path(shutil.copy(EXAMPLES / "sample2.jpg", tmp_path / "a.jpg"))
    assert main(["matte", str(photo), "--out", str(tmp_path / "out"), "--watch"]) == 2
    assert "--watch takes one folder to watch" in capsys.readouterr().err
    assert main(["matte", str(tmp_path), "-o", str(tmp_path / "cut.png"), "--watch"]) == 2
    assert "give --out a folder" in capsys.readouterr().err
