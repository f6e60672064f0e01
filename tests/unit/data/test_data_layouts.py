"""Dataset discovery: released layouts, pairing by stem, missing partners."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gfm.data.layouts import (
    am2k_split,
    background_split,
    detect_layout,
    image_folder,
    matting_split,
    matting_splits,
    p3m_split,
    pair_folders,
)
from gfm.errors import InputError


def _img(path: Path, size=(40, 30), mode="RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, 128 if mode == "L" else (10, 20, 30)).save(path)
    return path


def make_am2k(root: Path, n: int = 3) -> Path:
    for i in range(n):
        _img(root / "train" / "original" / f"m_{i}.jpg")
        _img(root / "train" / "mask" / f"m_{i}.png", mode="L")
    for i in range(2):
        _img(root / "validation" / "original" / f"v_{i}.jpg")
        _img(root / "validation" / "mask" / f"v_{i}.png", mode="L")
        _img(root / "validation" / "trimap" / f"v_{i}.png", mode="L")
    return root


def test_am2k_layout(tmp_path: Path) -> None:
    root = make_am2k(tmp_path / "AM-2k")
    assert detect_layout(root) == "am2k"
    train = am2k_split(root, "train").require_complete()
    assert [s.key for s in train.samples] == ["train/original/m_0", "train/original/m_1", "train/original/m_2"]
    assert train.samples[0].alpha == root / "train" / "mask" / "m_0.png"
    val = am2k_split(root, "validation").require_complete()
    assert all(s.trimap is not None for s in val.samples)
    assert [s.name for s in matting_splits(root)] == ["AM-2k train", "AM-2k validation"]


def test_missing_partners_are_listed_with_their_files(tmp_path: Path) -> None:
    root = make_am2k(tmp_path / "AM-2k")
    (root / "train" / "mask" / "m_1.png").unlink()
    _img(root / "train" / "mask" / "orphan.png", mode="L")
    (root / "validation" / "trimap" / "v_0.png").unlink()
    _img(root / "train" / "original" / "m_2.png")  # same stem as m_2.jpg
    train = am2k_split(root, "train")
    kinds = {(p.kind, p.path.name) for p in train.problems}
    assert ("missing-alpha", "m_1.jpg") in kinds
    assert ("missing-image", "orphan.png") in kinds
    assert ("duplicate-stem", "m_2.png") in kinds
    assert [s.name for s in train.samples] == ["m_0", "m_2"]
    with pytest.raises(InputError, match="m_1.jpg"):
        train.require_complete()
    val = am2k_split(root, "validation")
    assert [(p.kind, p.path.name) for p in val.problems] == [("missing-trimap", "v_0.jpg")]


@pytest.mark.parametrize("under_validation", [True, False])
def test_p3m_layout(tmp_path: Path, under_validation: bool) -> None:
    root = tmp_path / "P3M-10k"
    _img(root / "train" / "blurred_image" / "p_1.jpg")
    _img(root / "train" / "mask" / "p_1.png", mode="L")
    base = root / "validation" if under_validation else root
    for split, images in (("P3M-500-P", "blurred_image"), ("P3M-500-NP", "original_image")):
        _img(base / split / images / "x.jpg")
        _img(base / split / "mask" / "x.png", mode="L")
        _img(base / split / "trimap" / "x.png", mode="L")
    assert detect_layout(root) == "p3m"
    assert len(p3m_split(root).require_complete().samples) == 1
    np_split = p3m_split(root, "P3M-500-NP").require_complete()
    assert np_split.samples[0].image.parent.name == "original_image"
    assert np_split.samples[0].trimap is not None
    assert [s.name for s in matting_splits(root)] == ["P3M train", "P3M-500-P", "P3M-500-NP"]
    with pytest.raises(InputError, match="splits"):
        p3m_split(root, "test")


def test_bg20k_and_image_folders(tmp_path: Path) -> None:
    root = tmp_path / "BG-20k"
    _img(root / "train" / "a.jpg")
    _img(root / "train" / "b.jpg")
    _img(root / "testval" / "c.jpg")
    _img(root / "gfm-cache" / "denoised-bm3d" / "train" / "a.png")  # never data
    assert detect_layout(root) == "bg20k"
    assert [p.name for p in background_split(root).images] == ["a.jpg", "b.jpg"]
    assert [p.name for p in background_split(root, "testval").images] == ["c.jpg"]
    coco = tmp_path / "coco"
    _img(coco / "sub" / "x.png")
    _img(coco / "y.jpg")
    (coco / "notes.txt").write_text("not an image")
    assert detect_layout(coco) == "images"
    assert [p.name for p in image_folder(coco).images] == ["x.png", "y.jpg"]


def test_pairs_layout_of_the_demo_data(data_dir: Path) -> None:
    split = matting_split(data_dir / "am2k")
    assert detect_layout(data_dir / "am2k") == "pairs"
    assert [s.name for s in split.require_complete().samples] == ["sample1", "sample2", "sample3"]


def test_empty_and_missing_folders(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        detect_layout(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no known dataset layout"):
        detect_layout(tmp_path / "empty")
    with pytest.raises(InputError, match="no images"):
        image_folder(tmp_path / "empty").require_nonempty()
    with pytest.raises(InputError, match="folder not found"):
        pair_folders(tmp_path / "a", tmp_path / "b")


def test_matting_split_refuses_background_sets(tmp_path: Path) -> None:
    _img(tmp_path / "bg" / "x.jpg")
    with pytest.raises(InputError, match="no alpha mattes"):
        matting_split(tmp_path / "bg")
    assert np.all([p.suffix == ".jpg" for p in background_split(tmp_path / "bg").images])


def test_validation_without_trimaps_is_valid_as_for_evaluate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """gfm evaluate generates missing trimaps; gfm data check accepts the same dataset."""
    from gfm.cli.main import main
    from gfm.evaluation.datasets import discover_dataset

    root = make_am2k(tmp_path / "AM-2k")
    shutil.rmtree(root / "validation" / "trimap")
    val = am2k_split(root, "validation").require_complete()
    assert len(val.samples) == 2 and all(s.trimap is None for s in val.samples)
    assert not discover_dataset(root).trimaps_provided
    assert main(["data", "check", str(root), "--no-progress"]) == 0
    assert "no problems found" in capsys.readouterr().err
    p3m = tmp_path / "P3M-10k"
    _img(p3m / "train" / "blurred_image" / "p_1.jpg")
    _img(p3m / "train" / "mask" / "p_1.png", mode="L")
    _img(p3m / "P3M-500-NP" / "original_image" / "x.jpg")
    _img(p3m / "P3M-500-NP" / "mask" / "x.png", mode="L")
    assert p3m_split(p3m, "P3M-500-NP").require_complete().samples[0].trimap is None
