"""Every command turns an operating-system error it did not foresee into one line (exit 2)."""

from __future__ import annotations

import argparse
import errno

import pytest

import gfm.cli.convert
from gfm.cli.main import main
from gfm.errors import describe_os_error


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "/data/out/x.png"), "/data/out/x.png: the disk is full"),
        (OSError(errno.EROFS, "Read-only file system", "/mnt/ro/x"), "/mnt/ro/x: the file system is read-only"),
        (FileExistsError(errno.EEXIST, "File exists", "/a", None, "/b"), "/a -> /b: it already exists"),
    ],
)
def test_unforeseen_os_errors_are_one_line(
    error: OSError, words: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def run(args: argparse.Namespace) -> int:
        raise error

    monkeypatch.setattr(gfm.cli.convert, "run", run)
    assert main(["convert", "in.pth", "out.pth"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"gfm convert: error: {words}") and err.count("\n") == 1
    assert err == f"gfm convert: error: {describe_os_error(error)}\n"
