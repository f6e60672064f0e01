"""``check_dataset`` finds each planted fault and names the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from gfm.data.check import check_dataset
from gfm.data.files import read_matte, read_trimap
from gfm.errors import InputError

import pytest


def make_clean(root: Path, demo: Path) -> Path:
    """A small AM-2k layout from the demo pairs (train) plus a validation split."""
    for sub in ("original", "mask"):
        shutil.copytree(demo / sub, root / "train" / sub)
    (root / "validation" / "original").mkdir(parents=True)
    (root / "validation" / "mask").mkdir()
    (root / "validation" / "trimap").mkdir()
    shutil.copy(demo / "original" / "sample1.jpg", root / "validation" / "original" / "v.jpg")
    shutil.copy(demo / "mask" / "sample1.png", root / "validation" / "mask" / "v.png")
    alpha = np.asarray(Image.open(demo / "mask" / "sample1.png"))
    trimap = np.where(alpha == 0, 0, np.where(alpha == 255, 255, 128)).astype(np.uint8)
    Image.fromarray(trimap).save(root / "validation" / "trimap" / "v.png")
    return root


def test_clean_dataset_passes(tmp_path: Path, data_dir: Path) -> None:
    report = check_dataset(make_clean(tmp_path / "AM-2k", data_dir / "am2k"))
    assert report.layout == "am2k"
    assert report.ok, report.problems
    assert report.counts == {"AM-2k train": 6, "AM-2k validation": 3}


def test_each_planted_fault_is_found(tmp_path: Path, data_dir: Path) -> None:
    root = make_clean(tmp_path / "AM-2k", data_dir / "am2k")
    train = root / "train"
    # RGB alpha (even with equal channels), 16-bit alpha, size mismatch, truncated JPEG,
    # missing partner, trimap with interpolated values.
    rgb = np.asarray(Image.open(train / "mask" / "sample1.png"))
    Image.fromarray(np.repeat(rgb[..., None], 3, axis=2)).save(train / "mask" / "sample1.png")
    a16 = np.asarray(Image.open(train / "mask" / "sample3.png")).astype(np.uint16) * 257
    Image.fromarray(a16).save(train / "mask" / "sample3.png")
    data = (train / "original" / "sample2.jpg").read_bytes()
    (train / "original" / "sample2.jpg").write_bytes(data[: len(data) // 2])
    Image.new("RGB", (50, 40)).save(train / "original" / "extra.jpg")
    Image.new("L", (51, 40)).save(train / "mask" / "extra.png")
    Image.new("RGB", (30, 20)).save(train / "original" / "lonely.jpg")
    trimap = np.asarray(Image.open(root / "validation" / "trimap" / "v.png")).copy()
    trimap[:5, :5] = 64
    Image.fromarray(trimap).save(root / "validation" / "trimap" / "v.png")

    report = check_dataset(root)
    found = {(p.kind, p.path.name) for p in report.problems}
    assert found == {
        ("alpha-not-8bit", "sample1.png"),
        ("alpha-not-8bit", "sample3.png"),
        ("unreadable", "sample2.jpg"),
        ("size-mismatch", "extra.png"),
        ("missing-alpha", "lonely.jpg"),
        ("trimap-values", "v.png"),
    }
    messages = {p.path.name: p.message for p in report.problems}
    assert "RGB" in messages["sample1.png"] and "16-bit" in messages["sample3.png"]
    assert str(train / "original" / "sample2.jpg") in messages["sample2.jpg"]
    assert not report.ok


def test_min_side_and_background_sets(tmp_path: Path) -> None:
    Image.new("RGB", (100, 60)).save(tmp_path / "a.jpg")
    Image.new("RGB", (300, 200)).save(tmp_path / "b.jpg")
    (tmp_path / "c.jpg").write_bytes(b"")
    report = check_dataset(tmp_path, min_side=100)
    assert {(p.kind, p.path.name) for p in report.problems} == {("too-small", "a.jpg"), ("unreadable", "c.jpg")}


def test_strict_readers(tmp_path: Path) -> None:
    Image.fromarray(np.full((4, 4), 65535, np.uint16)).save(tmp_path / "a16.png")
    with pytest.raises(InputError, match="a16.png.*16-bit"):
        read_matte(tmp_path / "a16.png")
    Image.fromarray(np.array([[0, 128], [255, 255]], np.uint8)).save(tmp_path / "t.png")
    assert read_trimap(tmp_path / "t.png").tolist() == [[0, 1], [2, 2]]
    Image.fromarray(np.array([[0, 127]], np.uint8)).save(tmp_path / "bad.png")
    with pytest.raises(InputError, match="bad.png.*0/128/255"):
        read_trimap(tmp_path / "bad.png")
