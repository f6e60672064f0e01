"""`gfm matte --hint`: trimaps and painted hints guide the matte."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import gfm
from gfm.cli.main import main
from gfm.io import read_image
from gfm.io.hints import Hint, hint_to_gray

EXAMPLES = Path(__file__).parents[2] / "examples" / "original"


@pytest.fixture(scope="module")
def tiny_tt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return gfm.save_checkpoint(gfm.create_model("tiny", "TT"), tmp_path_factory.mktemp("weights") / "tiny_tt.pth")


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("sample2.jpg", "sample6.jpg"):
        shutil.copy(EXAMPLES / name, folder / name)
    return folder


def _write_hint(path: Path, hints: np.ndarray) -> Path:
    Image.fromarray(hint_to_gray(hints), "LA").save(path)
    return path


def _alpha(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def test_a_hint_file_guides_one_image(tmp_path: Path, photos: Path, tiny_tt: Path) -> None:
    height, width = read_image(photos / "sample2.jpg").shape[:2]
    hints = np.zeros((height, width), np.uint8)
    hints[: height // 2] = Hint.FOREGROUND
    hints[-20:] = Hint.BACKGROUND
    hint = _write_hint(tmp_path / "hint.png", hints)
    plain, guided = tmp_path / "plain", tmp_path / "guided"
    common = ["--model", str(tiny_tt), "--outputs", "alpha,trimap", "-q"]
    assert main(["matte", str(photos / "sample2.jpg"), "--out", str(plain), *common]) == 0
    assert main(["matte", str(photos / "sample2.jpg"), "--out", str(guided), "--hint", str(hint), *common]) == 0
    before, after = _alpha(plain / "sample2_alpha.png"), _alpha(guided / "sample2_alpha.png")
    assert (after[: height // 2] == 255).all() and (after[-20:] == 0).all()
    unknown = hints == Hint.UNKNOWN
    np.testing.assert_array_equal(after[unknown], before[unknown])
    trimap = _alpha(guided / "sample2_trimap.png")
    assert (trimap[: height // 2] == 255).all() and (trimap[-20:] == 0).all()


def test_a_full_trimap_makes_it_trimap_based(tmp_path: Path, photos: Path, tiny_tt: Path) -> None:
    """A trimap written by --outputs trimap, edited, and fed back: GFM as a trimap-based method."""
    first = tmp_path / "first"
    assert main(["matte", str(photos / "sample2.jpg"), "--out", str(first), "--model", str(tiny_tt), "--outputs", "trimap", "-q"]) == 0
    trimap = _alpha(first / "sample2_trimap.png").copy()
    trimap[:, :30] = 0  # the user says: the left edge is background
    Image.fromarray(trimap).save(first / "sample2_trimap.png")
    out = tmp_path / "out"
    code = main(["matte", str(photos / "sample2.jpg"), "--out", str(out), "--model", str(tiny_tt), "--outputs", "alpha,trimap", "--hint", str(first), "-q"])
    assert code == 0
    alpha = _alpha(out / "sample2_alpha.png")
    assert (alpha[:, :30] == 0).all()
    np.testing.assert_array_equal(_alpha(out / "sample2_trimap.png"), trimap)  # the fusion used the given trimap


def test_a_hint_folder_for_a_batch(tmp_path: Path, photos: Path, tiny_tt: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hints_dir = tmp_path / "hints"
    hints_dir.mkdir()
    height, width = read_image(photos / "sample6.jpg").shape[:2]
    _write_hint(hints_dir / "sample6.png", np.full((height, width), Hint.FOREGROUND, np.uint8))
    out = tmp_path / "out"
    assert main(["matte", str(photos), "--out", str(out), "--model", str(tiny_tt), "--outputs", "alpha", "--hint", str(hints_dir), "-q"]) == 0
    assert (_alpha(out / "sample6_alpha.png") == 255).all()
    assert (out / "sample2_alpha.png").is_file()
    assert "1 image(s) had no hint in" in capsys.readouterr().err


def test_bad_hints(tmp_path: Path, photos: Path, tiny_tt: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wrong = _write_hint(tmp_path / "small.png", np.zeros((10, 10), np.uint8))
    out = tmp_path / "out"
    args = ["--out", str(out), "--model", str(tiny_tt), "-q"]
    assert main(["matte", str(photos / "sample2.jpg"), "--hint", str(wrong), *args]) == 1
    assert "small.png: the hint map is 10x10 pixels but the image is" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())  # nothing half-written
    assert main(["matte", str(photos), "--hint", str(wrong), *args]) == 2
    assert "one hint file for 2 images" in capsys.readouterr().err
    assert main(["matte", str(photos / "sample2.jpg"), "--hint", str(tmp_path / "nothere.png"), *args]) == 2
    assert "no such file or folder" in capsys.readouterr().err
