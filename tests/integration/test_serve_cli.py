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


def test_bad_limits_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--queue", "-1"]) == 2
    assert "--queue must be 0 or more" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["serve", "--max-upload-mb", "0"])
    assert "must be positive" in capsys.readouterr().err
