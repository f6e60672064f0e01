"""Full-resolution steps after the network keep their memory bounded (issue 11, item 5).

Peaks are measured with tracemalloc, which sees every NumPy allocation (and
so pymatting's). Each bound is a few times the size of the result, where the
old code needed tens of bytes a pixel.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import gfm.inference.foreground as foreground
from gfm.io import read_alpha, read_image, write_alpha

EXAMPLES = Path(__file__).parents[2] / "examples"


def _peak_mb(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def twelve_mp() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (3000, 4000, 3), np.uint8), rng.random((3000, 4000), dtype=np.float32)


def test_composite_preview_cutout_and_alpha_png_stay_small(twelve_mp: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    image, alpha = twelve_mp  # 36 MB of colours, 48 MB of alpha
    strip = np.random.default_rng(1).integers(0, 255, (1, 5000, 3), np.uint8)  # a 1-pixel-high background
    assert _peak_mb(lambda: foreground.composite(image, alpha, strip)) < 150  # result 36 + fitted background 36 (was 613)
    assert _peak_mb(lambda: foreground.composite(image, alpha, (0, 177, 64))) < 100  # (was 384)
    assert _peak_mb(lambda: foreground.preview(image, alpha, image)) < 80  # (was 564)
    assert _peak_mb(lambda: foreground.cutout(image, alpha)) < 75  # result 48 (was 96)
    assert _peak_mb(lambda: write_alpha(tmp_path / "a.png", alpha)) < 40  # 8-bit copy 12 (was 96)


def test_foreground_of_a_large_image_is_estimated_in_tiles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above the single-piece size, tiles bound the memory; the colours stay those of the whole-image solve."""
    import cv2

    image = cv2.resize(read_image(EXAMPLES / "original" / "sample6.jpg"), (1200, 800), interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(read_alpha(EXAMPLES / "mask" / "sample6.png"), (1200, 800), interpolation=cv2.INTER_AREA)
    whole = foreground.estimate_foreground(image, alpha, "ml")
    whole_peak = _peak_mb(lambda: foreground.estimate_foreground(image, alpha, "ml"))
    monkeypatch.setitem(foreground.SINGLE_PIECE_PIXELS, "ml", 200_000)
    monkeypatch.setitem(foreground.TILE_SIDE, "ml", 300)
    tiled = foreground.estimate_foreground(image, alpha, "ml")
    tiled_peak = _peak_mb(lambda: foreground.estimate_foreground(image, alpha, "ml"))
    assert tiled_peak < whole_peak / 3  # 0.18 MP tiles with their margins, not 0.96 MP at once
    difference = np.abs(tiled.astype(np.int16) - whole.astype(np.int16)).max(axis=2)
    assert (difference * alpha).mean() < 0.5  # visible colours: a fraction of a level apart on average
    assert np.percentile(difference[alpha > 0.5], 99) <= 8
