"""The default foreground colours (``--foreground fast``): pymatting's multi-level
energy solved on the transition band. Error against known colours on a real
composite, tiles, edge cases, and no pymatting import."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import gfm.inference.foreground as foreground
from gfm.errors import InputError
from gfm.inference.band_solver import estimate_foreground_band, prepare
from gfm.inference.foreground import estimate_foreground
from gfm.io import read_alpha, read_image
from foreground_truth import DATA, colour_errors, known_composite

@pytest.fixture(scope="module")
def composite() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return known_composite()


def test_the_default_is_no_worse_than_pymattings_multi_level_method(composite: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    image, alpha, truth = composite
    fast = colour_errors(estimate_foreground(image, alpha), truth, alpha)
    ml = colour_errors(estimate_foreground(image, alpha, "ml"), truth, alpha)
    none = colour_errors(image, truth, alpha)
    # measured: fast 0.43 / 1.77, ml 0.51 / 2.12, image x alpha 1.12 / 4.64 (all / band, 0..255)
    assert fast[0] <= ml[0] + 0.02 and fast[1] <= ml[1] + 0.05
    assert fast[1] < 2.0 and fast[1] < 0.5 * none[1]


def test_a_wide_soft_edge_is_recovered() -> None:
    """A red disc over blue with a 20-pixel ramp of alpha (Blur-Fusion's weak point)."""
    yy, xx = np.mgrid[:120, :160]
    alpha = np.clip((50 - np.hypot(yy - 60, xx - 80)) / 20, 0, 1).astype(np.float32)
    red, blue = np.array([220, 30, 20], np.float32), np.array([10, 40, 200], np.float32)
    image = np.rint(alpha[..., None] * red + (1 - alpha[..., None]) * blue).astype(np.uint8)
    error = np.abs(estimate_foreground_band(image, alpha).astype(np.float32) - red).max(axis=2)
    assert error[alpha > 0.2].max() <= 6 and (error * alpha).sum() / alpha.sum() < 1


def test_tiles_of_a_large_image_give_nearly_the_whole_images_colours(monkeypatch: pytest.MonkeyPatch) -> None:
    image = read_image(DATA / "am2k" / "original" / "sample2.jpg")
    alpha = read_alpha(DATA / "am2k" / "mask" / "sample2.png")
    whole = estimate_foreground(image, alpha, "fast")
    monkeypatch.setitem(foreground.SINGLE_PIECE_PIXELS, "fast", 20_000)
    monkeypatch.setitem(foreground.TILE_SIDE, "fast", 128)
    tiled = estimate_foreground(image, alpha, "fast")
    difference = np.abs(tiled.astype(np.int16) - whole.astype(np.int16)).max(axis=2)
    assert (difference * alpha).sum() / alpha.sum() < 0.5  # visible colours: a fraction of a level apart
    np.testing.assert_array_equal(tiled[alpha == 1], image[alpha == 1])


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (5, 1), (37, 53), (130, 97)])
def test_shapes_dtypes_and_odd_sizes(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    alpha8 = rng.integers(0, 256, shape, dtype=np.uint8)
    alpha8[alpha8 > 200], alpha8[alpha8 < 50] = 255, 0
    alpha = alpha8.astype(np.float32) * np.float32(1 / 255)
    out = estimate_foreground_band(image, alpha)
    assert out.dtype == np.uint8 and out.shape == image.shape
    np.testing.assert_array_equal(out[alpha == 1], image[alpha == 1])
    np.testing.assert_array_equal(estimate_foreground_band(image, alpha8), out)
    np.testing.assert_array_equal(estimate_foreground_band(image, alpha.astype(np.float64)), out)
    np.testing.assert_array_equal(estimate_foreground_band(image, alpha), out)  # deterministic


def test_alpha_all_zero_or_all_one_and_bad_input() -> None:
    image = np.random.default_rng(1).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    np.testing.assert_array_equal(estimate_foreground_band(image, np.ones((50, 70), np.float32)), image)
    empty = estimate_foreground_band(image, np.zeros((50, 70), np.float32))
    assert empty.shape == image.shape and empty.dtype == np.uint8
    with pytest.raises(InputError, match="uint8"):
        estimate_foreground_band(image.astype(np.float32), np.zeros((50, 70), np.float32))
    with pytest.raises(InputError, match="does not match"):
        estimate_foreground_band(image, np.zeros((70, 50), np.float32))
    with pytest.raises(InputError, match="alpha must be"):
        estimate_foreground_band(image, np.zeros((50, 70), np.int32))


def test_prepare_announces_a_slow_compilation_only() -> None:
    calls: list[str] = []
    prepare(on_slow=lambda: calls.append("slow"), slow_after=60.0)  # compiled by the tests above: quick
    assert calls == []


def test_fast_does_not_import_pymatting() -> None:
    """pymatting's import costs about half a second a process; only ml and cf need it."""
    code = (
        "import sys, numpy as np\n"
        "from gfm.inference.foreground import estimate_foreground\n"
        "estimate_foreground(np.zeros((40, 40, 3), np.uint8), np.full((40, 40), 0.5, np.float32))\n"
        "print('pymatting' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
