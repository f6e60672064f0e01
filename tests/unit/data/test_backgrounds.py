"""``prepare_backgrounds``: size filter, resize, exact and near duplicates."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from gfm.data.backgrounds import hamming, phash, prepare_backgrounds
from gfm.io import read_image, write_image

from synthetic import make_background


def test_phash_is_robust_to_resizing_and_separates_images() -> None:
    rng = np.random.default_rng(0)
    a = make_background(rng, 300, 450)
    b = make_background(rng, 300, 450)
    small = cv2.resize(a, (225, 150), interpolation=cv2.INTER_AREA)
    ok, jpg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 70])
    recoded = cv2.imdecode(jpg, cv2.IMREAD_COLOR)
    hashes = np.array([phash(b), phash(recoded)], np.uint64)
    d_other, d_copy = hamming(phash(a), hashes).tolist()
    assert d_copy <= 4 and d_other >= 16


def test_filter_resize_and_deduplicate(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    src = tmp_path / "src"
    a = make_background(rng, 240, 360)
    write_image(src / "a.png", a)
    write_image(src / "copies" / "a_copy.png", a)  # same pixels
    write_image(src / "a_small.jpg", cv2.resize(a, (240, 160), interpolation=cv2.INTER_AREA), quality=80)
    write_image(src / "b.jpg", make_background(rng, 300, 200))
    write_image(src / "tiny.jpg", make_background(rng, 100, 300))
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    dst = tmp_path / "dst"
    report = prepare_backgrounds(src, dst, min_side=150, side=120, progress=False)
    assert sorted(p.name for p, _ in report.kept) == ["a.png", "b.jpg"]
    reasons = {p.name: r for p, r, _ in report.dropped}
    assert reasons == {
        "a_copy.png": "duplicate",
        "a_small.jpg": "near-duplicate",
        "tiny.jpg": "too-small",
        "broken.jpg": "unreadable",
    }
    written = {p.name: read_image(p) for _, p in report.kept}
    assert written["a.jpg"].shape == (120, 180, 3)  # 240 x 360 -> shorter side 120, ratio kept
    assert written["b.jpg"].shape == (180, 120, 3)
    saved = json.loads((dst / "report.json").read_text())
    assert saved["counts"] == {"kept": 2, "duplicate": 1, "near-duplicate": 1, "too-small": 1, "unreadable": 1}
