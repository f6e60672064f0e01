"""Blur-Fusion foreground colours (``--foreground blur``): error against known colours
on a real composite, agreement with a plain full-resolution Blur-Fusion, edge cases,
bounded memory, and no pymatting import."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc

import cv2
import numpy as np
import pytest

from gfm.errors import InputError
from gfm.inference.blur_fusion import estimate_foreground_blur_fusion
from gfm.inference.foreground import estimate_foreground
from foreground_truth import colour_errors, known_composite

@pytest.fixture(scope="module")
def composite() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return known_composite()


def _plain_blur_fusion(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The obviously-correct version: both passes at full resolution on every pixel."""
    i = image.astype(np.float32)
    a = alpha[..., None]
    fg = bg = i
    for size in (90, 6):
        mean_alpha = cv2.blur(alpha, (size, size))[..., None]
        fg_mean = cv2.blur(fg * a, (size, size)) / np.maximum(mean_alpha, 1e-6)
        bg_mean = cv2.blur(bg * (1 - a), (size, size)) / np.maximum(1 - mean_alpha, 1e-6)
        residual = i - a * fg_mean - (1 - a) * bg_mean
        fg = np.clip(fg_mean + a * residual, 0, 255)
        bg = np.clip(bg_mean + (1 - a) * residual, 0, 255)
    return np.rint(fg).astype(np.uint8)


def test_error_against_the_true_colours_of_a_real_composite(composite: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    image, alpha, truth = composite
    blur = colour_errors(estimate_foreground(image, alpha, "blur"), truth, alpha)
    ml = colour_errors(estimate_foreground(image, alpha, "ml"), truth, alpha)
    none = colour_errors(image, truth, alpha)
    # measured: blur 0.59 / 2.43, ml 0.51 / 2.12, image x alpha 1.12 / 4.64 (all / band, 0..255)
    assert blur[0] < 0.65 and blur[1] < 2.6
    assert blur[1] < 0.6 * none[1]  # removes most of the old background's colour
    # pymatting's multi-level method (and the default, its energy on the band) stays
    # closer to the closed-form colours, the truth of RSSN composites
    assert ml[1] < blur[1] < 1.25 * ml[1]


def test_agrees_with_plain_full_resolution_blur_fusion(composite: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """The coarse first pass and the band-only second pass change the colours little."""
    image, alpha, _ = composite
    fast, plain = estimate_foreground_blur_fusion(image, alpha), _plain_blur_fusion(image, alpha)
    difference = np.abs(fast.astype(np.int16) - plain.astype(np.int16)).max(axis=2)
    assert (difference * alpha).sum() / alpha.sum() < 0.2
    assert np.percentile(difference[alpha > 0.5], 99) <= 3
    # alpha 1: the image itself, exactly
    np.testing.assert_array_equal(fast[alpha == 1], image[alpha == 1])


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (37, 53), (64, 65), (130, 97)])
def test_shapes_dtypes_and_sizes_that_are_no_multiple_of_the_tiles(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    alpha8 = rng.integers(0, 256, shape, dtype=np.uint8)
    alpha8[alpha8 > 200], alpha8[alpha8 < 50] = 255, 0
    alpha = alpha8.astype(np.float32) * np.float32(1 / 255)
    out = estimate_foreground_blur_fusion(image, alpha)
    assert out.dtype == np.uint8 and out.shape == image.shape
    np.testing.assert_array_equal(out[alpha == 1], image[alpha == 1])
    # uint8 alphas are read as 0..255, float64 ones work too
    np.testing.assert_array_equal(estimate_foreground_blur_fusion(image, alpha8), out)
    np.testing.assert_array_equal(estimate_foreground_blur_fusion(image, alpha.astype(np.float64)), out)


def test_a_wide_soft_edge_is_blur_fusions_weak_point() -> None:
    """A red disc over blue with a 20-pixel ramp of alpha: most of the blue is
    removed, but box means over a wide ramp keep some of it, where the
    multi-level method recovers red almost exactly."""
    yy, xx = np.mgrid[:120, :160]
    alpha = np.clip((50 - np.hypot(yy - 60, xx - 80)) / 20, 0, 1).astype(np.float32)
    red, blue = np.array([220, 30, 20], np.float32), np.array([10, 40, 200], np.float32)
    image = np.rint(alpha[..., None] * red + (1 - alpha[..., None]) * blue).astype(np.uint8)
    band = (alpha > 0) & (alpha < 1)

    def band_error(colours: np.ndarray) -> float:
        error = np.abs(colours.astype(np.float32) - red).max(axis=2) * alpha
        return float(error[band].sum() / alpha[band].sum())

    blur, ml, plain = band_error(estimate_foreground(image, alpha, "blur")), band_error(estimate_foreground(image, alpha, "ml")), band_error(image)
    # measured: blur 16.6, ml 0.04, image x alpha 76.1 (alpha-weighted, 0..255)
    assert blur < 0.25 * plain and blur < 18
    assert ml < 1


def test_alpha_all_zero_or_all_one() -> None:
    image = np.random.default_rng(1).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    np.testing.assert_array_equal(estimate_foreground_blur_fusion(image, np.ones((50, 70), np.float32)), image)
    # no foreground anywhere: colours that no composite shows, black
    empty = estimate_foreground_blur_fusion(image, np.zeros((50, 70), np.float32))
    assert empty.shape == image.shape and not empty.any()
    # outside [0, 1] is clipped
    np.testing.assert_array_equal(estimate_foreground_blur_fusion(image, np.full((50, 70), 1.5, np.float32)), image)


def test_bad_input_is_a_clear_error() -> None:
    image = np.zeros((4, 5, 3), np.uint8)
    with pytest.raises(InputError, match="uint8"):
        estimate_foreground_blur_fusion(image.astype(np.float32), np.zeros((4, 5), np.float32))
    with pytest.raises(InputError, match="does not match"):
        estimate_foreground_blur_fusion(image, np.zeros((5, 4), np.float32))
    with pytest.raises(InputError, match="alpha must be"):
        estimate_foreground_blur_fusion(image, np.zeros((4, 5), np.int32))


def test_memory_stays_bounded_on_a_large_image() -> None:
    """Every tile mixed (random alpha), 3 MP: no full-size float temporaries
    (pymatting's multi-level method needs about 75 bytes a pixel)."""
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (1500, 2000, 3), dtype=np.uint8)
    alpha = rng.random((1500, 2000), dtype=np.float32)
    tracemalloc.start()
    try:
        estimate_foreground_blur_fusion(image, alpha)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # bytes a pixel: the 3-byte result, the coarse copies (about 5) and one strip of
    # rectangles' temporaries (about 5 here, in proportion to the width, not the area)
    assert peak / alpha.size < 16


def test_blur_does_not_import_pymatting() -> None:
    """pymatting's import (numba) costs about half a second a process."""
    code = (
        "import sys, numpy as np\n"
        "from gfm.inference.foreground import estimate_foreground\n"
        "estimate_foreground(np.zeros((40, 40, 3), np.uint8), np.full((40, 40), 0.5, np.float32), 'blur')\n"
        "print(sorted(m for m in ('pymatting', 'numba') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
