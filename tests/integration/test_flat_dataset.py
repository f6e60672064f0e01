"""One notion of a dataset folder: photos with their mattes side by side (the flat layout)
read alike by gfm data check and gfm evaluate --data; photos and mattes that share a
name get the same advice from both."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gfm.cli.main import main
from gfm.data.layouts import detect_layout, matting_split, validation_split

EXAMPLES = Path(__file__).parents[2] / "examples"
NAMES = ("sample2", "sample6")


@pytest.fixture
def flat(tmp_path: Path) -> Path:
    folder = tmp_path / "flat"
    folder.mkdir()
    for name in NAMES:
        shutil.copy(EXAMPLES / "original" / f"{name}.jpg", folder / f"{name}.jpg")
        shutil.copy(EXAMPLES / "mask" / f"{name}.png", folder / f"{name}_alpha.png")
    return folder


def test_data_check_and_evaluate_read_the_same_flat_folder(flat: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert detect_layout(flat) == "flat"
    split = validation_split(flat)
    assert [s.key for s in split.samples] == list(NAMES) and not split.problems
    assert [s.key for s in matting_split(flat).samples] == list(NAMES)  # gfm train reads it too
    assert main(["data", "check", str(flat), "-q"]) == 0
    err = capsys.readouterr().err
    assert f"{flat} (flat) flat: 4 files" in err and "no problems found" in err  # 2 photos + 2 mattes, not 4 photos
    predictions = tmp_path / "pred"
    predictions.mkdir()
    for name in NAMES:  # perfect predictions
        shutil.copy(EXAMPLES / "mask" / f"{name}.png", predictions / f"{name}.png")
    assert main(["evaluate", "--data", str(flat), "--pred", str(predictions), "--out", str(tmp_path / "eval"), "-q"]) == 0
    assert "flat: 2 images" in capsys.readouterr().out
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert "SAD" in json.dumps(summary)


def test_an_unpaired_photo_is_a_problem_for_both(flat: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(EXAMPLES / "original" / "sample2.jpg", flat / "lonely.jpg")
    assert main(["data", "check", str(flat), "-q"]) == 1
    assert "missing-alpha:" in capsys.readouterr().out
    assert main(["evaluate", "--data", str(flat), "--pred", str(flat), "--out", str(tmp_path / "eval"), "-q"]) == 2
    assert "images without an alpha in" in (err := capsys.readouterr().err) and err.rstrip().endswith("lonely")


def test_photos_and_mattes_sharing_names_get_the_same_advice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "same"
    folder.mkdir()
    shutil.copy(EXAMPLES / "original" / "sample2.jpg", folder / "sample2.jpg")
    shutil.copy(EXAMPLES / "mask" / "sample2.png", folder / "sample2.png")
    advice = "sample2.jpg and sample2.png share a name; if one is the other's matte, name it sample2_alpha.png"
    assert main(["data", "check", str(folder), "-q"]) == 1
    assert advice in capsys.readouterr().out
    assert main(["evaluate", "--data", str(folder), "--pred", str(folder), "--out", str(tmp_path / "eval"), "-q"]) == 2
    assert advice in capsys.readouterr().err
