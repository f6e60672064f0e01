"""`gfm serve` on the command line: help, refusals before the model loads."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from gfm.cli.main import main

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'gfm-matting[serve]')")


def test_help_says_where_it_listens(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "127.0.0.1" in text and "--max-upload-mb" in text and "Retry-After" in text and "no authentication" in text


def test_a_taken_port_is_a_clear_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code = main(["serve", "--port", str(port), "--model", str(tmp_path / "never-loaded.pth")])
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "value", "words"),
    [
        ("--queue", "-1", "--queue: must be from 0 to 1000, got -1"),
        ("--max-upload-mb", "0", "--max-upload-mb: must be above 0"),
        ("--max-upload-mb", "nan", "--max-upload-mb: expected a number above 0 and at most 10000, got 'nan'"),
        ("--max-upload-mb", "inf", "got 'inf'"),
        ("--max-image-mp", "nan", "--max-image-mp: expected a number"),
        ("--port", "99999", "--port: must be from 0 to 65535, got 99999"),  # listened on 34463
        ("--port", "-1", "--port: must be from 0 to 65535, got -1"),  # said "cannot resolve --host"
        ("--sessions", "0", "--sessions: must be from 1"),
        ("--header-timeout", "-5", "--header-timeout: must be above 0"),
        ("--connections", "1", "--connections: must be from 2"),
    ],
)
def test_bad_limits_are_refused(capsys: pytest.CaptureFixture[str], flag: str, value: str, words: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", flag, value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_a_bad_cors_origin_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["serve", "--cors-origin", "localhost:3000", "--model", str(tmp_path / "never-loaded.pth")]) == 2
    assert "--cors-origin localhost:3000" in capsys.readouterr().err
