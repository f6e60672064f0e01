"""A composite whose true foreground colours are known, and the error measure of
``benchmarks/foreground.py``, for the tests of the foreground estimators."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gfm.data.compose import alpha_blend
from gfm.inference.foreground import cover
from gfm.io import read_alpha, read_image

DATA = Path(__file__).parents[1] / "data"


def known_composite() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A real AM-2k photo's closed-form colours (the known ``F``, as ``gfm compose``
    uses them) over the cat photo: ``(I, alpha, F)``."""
    alpha8 = np.rint(read_alpha(DATA / "am2k" / "mask" / "sample1.png") * 255).astype(np.uint8)
    truth = read_image(DATA / "foreground" / "sample1_cf.png")
    background = cover(read_image(DATA / "imagenet" / "chelsea.jpg"), *alpha8.shape)
    return alpha_blend(truth, background, alpha8), alpha8.astype(np.float32) / 255, truth


def colour_errors(estimate: np.ndarray, truth: np.ndarray, alpha: np.ndarray) -> tuple[float, float]:
    """Alpha-weighted mean colour error (0..255), over all pixels and over the transition band."""
    weighted = np.abs(estimate.astype(np.float32) - truth.astype(np.float32)).mean(axis=2) * alpha
    band = (alpha > 0) & (alpha < 1)
    return float(weighted.sum() / alpha.sum()), float(weighted[band].sum() / alpha[band].sum())
