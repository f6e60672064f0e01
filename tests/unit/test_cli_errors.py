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


def test_gfm_alone_prints_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: gfm") and "matte" in out and "serve" in out


@pytest.mark.parametrize(
    ("argv", "usage"),
    [(["matte", "photo.jpg", "-o", "cut.png", "--bogus"], "usage: gfm matte "),
     (["weights", "list", "--bogus"], "usage: gfm weights list"),
     (["serve", "--bogus"], "usage: gfm serve ")],
)
def test_an_unknown_option_is_reported_with_its_sub_command(argv: list[str], usage: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(usage) and f"gfm {' '.join(usage.split()[2:])}: error: unrecognized arguments: --bogus" in err
