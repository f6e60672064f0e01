"""`gfm weights ...` through gfm.cli.main.main, with GFM_HOME in tmp_path."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import gfm
import gfm.cli.weights
from gfm.cli.main import main

PAYLOAD = os.urandom(50_000)


@pytest.fixture(autouse=True)
def _accept_any_payload(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests move random bytes around; the checkpoint check has its own test below."""
    if "real_validation" not in request.keywords:
        monkeypatch.setattr(gfm.cli.weights, "_validator", lambda name: (lambda path: None))


@pytest.mark.real_validation
def test_import_checks_the_checkpoint(tmp_path: Path, gfm_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`gfm weights import` installs a file only if it loads strictly into the entry's variant."""
    import torch

    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(PAYLOAD)
    assert main(["weights", "import", str(garbage), "--name", "gfm-r34-tt"]) == 2
    err = capsys.readouterr().err
    assert f"{garbage.resolve()}: not usable as weights 'gfm-r34-tt'" in err and "nothing was installed" in err
    assert ".tmp" not in err  # the message names the user's file, not our temporary copy
    assert not (gfm_home / "weights" / "gfm_r34_tt.pth").exists()

    wrong = tmp_path / "d121.pth"  # a valid checkpoint, of another variant
    gfm.save_checkpoint(gfm.create_model("d121", "TT"), wrong)
    assert main(["weights", "import", str(wrong), "--name", "gfm-r34-tt"]) == 2
    err = capsys.readouterr().err
    assert "the file is d121-TT, not r34-TT; import it under that variant's name: `gfm weights import FILE --name gfm-d121-tt`" in err
    assert "backbone=" not in err and "rosta=" not in err  # no Python arguments for a command-line user

    good = tmp_path / "r34_tt.pth"
    torch.save(gfm.create_model("r34", "TT").state_dict(), good)
    assert main(["weights", "import", str(good), "--name", "gfm-r34-tt"]) == 0
    assert (gfm_home / "weights" / "gfm_r34_tt.pth").is_file()
    # a bare state dict has no metadata: the registry entry supplies variant and normalisation
    photo = Path(__file__).parents[2] / "examples" / "original" / "sample2.jpg"
    assert main(["matte", str(photo), "--out", str(tmp_path / "out"), "--model", "gfm-r34-tt", "--outputs", "alpha", "-q"]) == 0
    assert (tmp_path / "out" / "sample2_alpha.png").is_file()


def test_list_path_import_path(tmp_path: Path, gfm_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "VARIANT", "STRATEGY", "TRAINED", "ON", "LICENCE", "CACHED"]
    row = next(line for line in lines if line.startswith("gfm-r34-tt "))
    assert row.split()[1:3] == ["r34-TT", "hybrid"] and "AM-2k ORI-Track" in row and row.split()[-1] == "no"
    default = next(line for line in lines if line.startswith("gfm-lite*"))
    assert default.split()[1:3] == ["effl0-TT", "single"] and "bundled (" in default
    assert "gfm-d121-rim" in out and str(gfm_home / "weights") in out

    assert main(["weights", "path", "gfm-r34-tt"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gfm weights: error: ")
    assert "gfm_r34_tt.pth" in err and "gfm weights import FILE --name gfm-r34-tt" in err

    source = tmp_path / "from_browser.pth"
    source.write_bytes(PAYLOAD)
    assert main(["weights", "import", str(source), "--name", "gfm-r34-tt"]) == 0
    cached = gfm_home / "weights" / "gfm_r34_tt.pth"
    assert capsys.readouterr().out.strip() == str(cached)
    assert cached.read_bytes() == PAYLOAD

    assert main(["weights", "path", "gfm-r34-tt"]) == 0
    assert capsys.readouterr().out.strip() == str(cached)
    assert main(["weights", "list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("gfm-r34-tt "))
    assert row.endswith("50.0 KB")


def test_download_from_mirror(server: Any, gfm_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    server.routes["/gfm_r34_ft.pth"] = server.Route(PAYLOAD)
    server.routes["/gfm_r34_bt.pth"] = server.Route(PAYLOAD[::-1])
    monkeypatch.setenv("GFM_WEIGHTS_BASE_URL", server.url())
    assert main(["weights", "download", "gfm-r34-ft", "gfm-r34-bt", "--quiet"]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(gfm_home / "weights" / "gfm_r34_ft.pth"), str(gfm_home / "weights" / "gfm_r34_bt.pth")]
    assert Path(printed[1]).read_bytes() == PAYLOAD[::-1]
    # --force fetches again; an explicit --url wins over the mirror.
    server.routes["/elsewhere"] = server.Route(PAYLOAD)
    assert main(["weights", "download", "gfm-r34-ft", "--force", "--url", server.url("/elsewhere"), "--quiet"]) == 0
    assert len(server.hits("/elsewhere")) == 1 and len(server.hits("/gfm_r34_ft.pth")) == 1


def test_user_errors_exit_2(tmp_path: Path, gfm_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["weights", "download", "gfm-r35-tt"]) == 2
    assert "unknown weights 'gfm-r35-tt'" in capsys.readouterr().err
    assert main(["weights", "import", str(tmp_path / "nope.pth"), "--name", "gfm-r34-tt"]) == 2
    assert "nope.pth: no such file" in capsys.readouterr().err
    assert main(["weights", "download", "gfm-r34-tt", "gfm-r34-ft", "--url", "http://127.0.0.1:9/x"]) == 2
    assert "--url needs exactly one NAME" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["weights", "--help"], ["list", "download", "import", "path", "GFM_HOME", "GFM_WEIGHTS_BASE_URL"]),
        (["weights", "download", "--help"], ["--force", "--url", "NAME"]),
        (["weights", "import", "--help"], ["FILE", "--name", "--force"]),
        (["weights", "path", "--help"], ["Never downloads"]),
        (["weights", "list", "--help"], ["default"]),
    ],
)
def test_help(argv: list[str], expected: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 0
    out = capsys.readouterr().out
    for word in expected:
        assert word in out
