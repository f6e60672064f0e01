"""The command line against hostile input (issue 21): unbounded standard input, outputs that
are not files, special files as inputs or hints, numeric flags out of range, wrong blame."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import gfm
from gfm.cli.main import main

EXAMPLES = Path(__file__).parents[2] / "examples" / "original"
PHOTO = EXAMPLES / "sample2.jpg"  # 800 x 1200


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return gfm.save_checkpoint(gfm.create_model("tiny", "TT"), tmp_path_factory.mktemp("weights") / "tiny_tt.pth")


def _matte_command(tiny: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "gfm.cli.main", "matte", *args, "--model", str(tiny), "--foreground", "none", "--threads", "1"]


# ------------------------------------------------------------------ 4. standard input read in bounded chunks


def test_endless_zeros_on_stdin_are_refused_at_the_first_bytes(tiny: Path) -> None:
    """`cat /dev/zero | gfm matte - -o -` grew until the machine ran out."""
    with open("/dev/zero", "rb") as zeros:
        done = subprocess.run(_matte_command(tiny, "-", "-o", "-", "-q"), stdin=zeros, capture_output=True, timeout=120,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 1 and done.stdout == b""
    assert b"<stdin>: not an image file (it starts with the bytes 00 00" in done.stderr


# ------------------------------------------------------------------ 8. -o - leaves nothing behind, even killed


def test_standard_output_needs_no_scratch_folder(tiny: Path, tmp_path: Path) -> None:
    """kill -9 during `-o -` left an empty /tmp/gfm-matte-* folder."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(_matte_command(tiny, "-", "-o", "-"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env)
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 120
        line = b""
        while b"model:" not in line and time.monotonic() < deadline:  # the model is loaded: stdin is next
            line = process.stderr.readline()
            assert line or process.poll() is None, "gfm matte ended early"
        assert process.stdin is not None
        process.stdin.write(PHOTO.read_bytes()[:1000])  # part of an image: it is reading
        process.stdin.flush()
        time.sleep(0.5)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert not list(scratch.iterdir())
    # and a whole run writes the PNG to standard output, again without a scratch file
    done = subprocess.run(_matte_command(tiny, "-", "-o", "-", "-q", "--outputs", "alpha"), input=PHOTO.read_bytes(),
                          capture_output=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert Image.open(io.BytesIO(done.stdout)).size == (800, 1200) and not list(scratch.iterdir())


# ------------------------------------------------------------------ 6. outputs that are not files, special files


def test_outputs_that_are_not_image_files_are_refused(tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = ["--model", str(tiny), "-q", "--foreground", "none"]
    assert main(["matte", str(PHOTO), "-o", str(tmp_path / "x.txt"), *model]) == 2
    err = capsys.readouterr().err
    assert ".txt is not an image format gfm matte writes; for one output file name it x.png" in err
    assert not (tmp_path / "x.txt").exists()  # it used to become a folder named x.txt
    for device in ("/dev/null", "/dev/full"):  # said "File exists"
        assert main(["matte", str(PHOTO), "-o", device, *model]) == 2
        err = capsys.readouterr().err
        assert f"{device}: is a device, not a folder or an image file" in err and "use -o -" in err
    notes = tmp_path / "notes"
    notes.write_text("mine")
    assert main(["matte", str(PHOTO), "-o", str(notes), *model]) == 2
    assert "notes: is a file, not a folder" in capsys.readouterr().err and notes.read_text() == "mine"
    (tmp_path / "run.v2").mkdir()  # an existing folder with a dot in its name is still a folder
    assert main(["matte", str(PHOTO), "-o", str(tmp_path / "run.v2"), "--outputs", "alpha", *model]) == 0


def test_special_files_as_hints_and_inputs_are_named_as_such(tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--hint naming a FIFO or /dev/zero said "no such file"."""
    fifo = tmp_path / "hint.png"
    os.mkfifo(fifo)
    model = ["--model", str(tiny), "-q", "--foreground", "none"]
    for hint, kind in ((fifo, "a FIFO (named pipe)"), (Path("/dev/zero"), "a device")):
        assert main(["matte", str(PHOTO), "-o", str(tmp_path / "out"), "--hint", str(hint), *model]) == 2
        assert f"{hint}: is {kind}, not a regular file" in capsys.readouterr().err
    assert main(["matte", str(fifo), "-o", str(tmp_path / "out"), *model]) == 1
    assert f"{fifo}: is a FIFO (named pipe), not a regular file" in capsys.readouterr().err


def test_a_hint_larger_than_its_image_is_a_size_mismatch(tmp_path: Path) -> None:
    """It said "gfm reads images up to 1.05 megapixels"."""
    from gfm.errors import InputError
    from gfm.io.hints import read_hint

    hint = tmp_path / "hint.png"
    Image.fromarray(np.zeros((2400, 1600), np.uint8)).save(hint)
    with pytest.raises(InputError, match=r"the hint map is 1600x2400 pixels but the image is 40x60"):
        read_hint(hint, (60, 40))


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["train", "--steps", "0"], "--steps: must be 1 or more, got 0"),
        (["train", "--workers", "-1"], "--workers: must be 0 or more"),
        (["profile", "--threads", "0"], "--threads: must be 1 or more"),
        (["profile", "--size", "8"], "--size: must be from 32 to 16384"),
        (["compose", "a", "b", "c", "--seed", "-1"], "--seed: must be from 0"),
        (["prepare", "teacher", "a", "b", "--model", "m.onnx", "--std", "nan"], "--std: expected a number above 0, got 'nan'"),
        (["prepare", "backgrounds", "a", "b", "--threshold", "65"], "--threshold: must be from 0 to 64"),
        (["data", "check", "a", "--min-side", "-3"], "--min-side: must be 0 or more"),
    ],
)
def test_numeric_flags_of_every_command_are_range_checked(argv: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
