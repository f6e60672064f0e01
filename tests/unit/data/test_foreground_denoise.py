"""Foreground estimation (pymatting) and denoising (BM3D, NLM) wrappers."""

from __future__ import annotations

import subprocess
import warnings
import sys

import cv2
import numpy as np
import pytest

from gfm.data.compose import alpha_blend
from gfm.data.denoise import denoise, estimate_noise_sigma
from gfm.data.foreground import estimate_foreground
from gfm.errors import ConfigError, InputError


def test_closed_form_foreground_reproduces_the_real_image(demo_pairs) -> None:
    _, image, alpha = demo_pairs[2]  # 400 x 225: well under a second
    fg, bg = estimate_foreground(image, alpha, "cf")
    assert fg.dtype == np.uint8 and fg.shape == image.shape and bg.shape == image.shape
    soft = (alpha > 0) & (alpha < 255)
    err = np.abs(alpha_blend(fg, bg, alpha).astype(int) - image)
    assert err.mean() < 1.0 and err[soft].mean() < 2.0
    # Better colours than image x alpha in the soft pixels: F differs from I there.
    naive_fringe = np.abs(image[soft].astype(int) - fg[soft]).mean()
    assert naive_fringe > 2.0


def test_multilevel_is_close_to_closed_form_on_the_foreground(demo_pairs) -> None:
    _, image, alpha = demo_pairs[2]
    small = (cv2.resize(image, (200, 112), interpolation=cv2.INTER_AREA),
             cv2.resize(alpha, (200, 112), interpolation=cv2.INTER_AREA))
    f_cf, _ = estimate_foreground(*small, "cf")
    f_ml, b_ml = estimate_foreground(*small, "ml")
    mostly_fg = small[1] > 128
    assert np.abs(f_cf[mostly_fg].astype(int) - f_ml[mostly_fg]).mean() < 6.0
    assert np.abs(alpha_blend(f_ml, b_ml, small[1]).astype(int) - small[0]).mean() < 2.0
    with pytest.raises(ConfigError, match="method"):
        estimate_foreground(*small, "knn")
    with pytest.raises(InputError, match="does not match"):
        estimate_foreground(small[0], small[1][:10], "ml")


def _noisy(sigma: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    clean = cv2.resize(rng.uniform(40, 215, (6, 8, 3)).astype(np.float32), (64, 48), interpolation=cv2.INTER_CUBIC)
    noisy = clean + rng.normal(0, sigma, clean.shape)
    return np.clip(np.rint(clean), 0, 255).astype(np.uint8), np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def test_noise_sigma_estimate() -> None:
    for sigma in (5.0, 10.0, 20.0):
        _, noisy = _noisy(sigma, seed=int(sigma))
        assert estimate_noise_sigma(noisy) == pytest.approx(sigma, rel=0.2)
    clean, _ = _noisy(1.0)
    assert estimate_noise_sigma(clean) < 1.5


@pytest.mark.parametrize("method", ["bm3d", "nlm"])
def test_denoisers_remove_noise(demo_pairs, method: str) -> None:
    _, image, _ = demo_pairs[1]
    clean = cv2.GaussianBlur(image[100:164, 150:230], (3, 3), 0)  # a 64 x 80 real patch
    rng = np.random.default_rng(0)
    noisy = np.clip(np.rint(clean + rng.normal(0, 10, clean.shape)), 0, 255).astype(np.uint8)
    out = denoise(noisy, method)
    assert out.dtype == np.uint8 and out.shape == noisy.shape
    mse_before = np.mean((noisy.astype(float) - clean) ** 2)
    mse_after = np.mean((out.astype(float) - clean) ** 2)
    # BM3D removes most of it; NLM (the fast stand-in) clearly less on textured fur.
    assert mse_after < mse_before / (3.0 if method == "bm3d" else 1.5)
    with pytest.raises(ConfigError, match="denoiser"):
        denoise(noisy, "wiener")


def test_heavy_dependencies_are_imported_lazily() -> None:
    code = (
        "import sys, argparse, gfm.data, gfm.data.foreground, gfm.data.denoise, gfm.data.compose;"
        "import gfm.cli.data, gfm.cli.prepare, gfm.cli.compose;"
        "sub = argparse.ArgumentParser().add_subparsers();"
        "[m.register(sub) for m in (gfm.cli.data, gfm.cli.prepare, gfm.cli.compose)];"
        "print(sorted(m for m in ('pymatting', 'bm3d', 'numba', 'torch', 'cv2') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # cv2 is needed by the numeric modules themselves, but not by the CLI parsers.
    assert out.stdout.strip() == "['cv2']"


def test_bm3d_keeps_grayscale_photos(demo_pairs) -> None:
    """sample2 is a black-and-white photo stored as RGB: both opponent colour channels
    are flat, which made bm3d_rgb divide 0 by 0 and the result black."""
    name, image, _ = demo_pairs[2]
    assert name == "sample2" and np.array_equal(image[..., 0], image[..., 2])
    patch = cv2.GaussianBlur(image[200:264, 150:230], (3, 3), 0)
    rng = np.random.default_rng(0)
    noisy = np.clip(np.rint(patch + rng.normal(0, 8, patch.shape[:2])[..., None]), 0, 255).astype(np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no divide-by-zero on the way
        out = denoise(noisy, "bm3d")
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])  # still gray
    assert np.mean((out.astype(float) - patch) ** 2) < np.mean((noisy.astype(float) - patch) ** 2) / 2
    flat = np.full((40, 48, 3), (200, 30, 90), np.uint8)  # a flat colour: every channel flat
    assert np.abs(denoise(flat, "bm3d").astype(int) - flat).max() <= 1


def test_bm3d_on_colour_equals_the_packages_rgb_routine(demo_pairs) -> None:
    import bm3d

    _, image, _ = demo_pairs[0]
    patch = image[100:164, 150:230]
    reference = np.clip(np.rint(bm3d.bm3d_rgb(patch / 255.0, 6 / 255.0) * 255.0), 0, 255)
    assert np.abs(denoise(patch, "bm3d", sigma=6.0).astype(int) - reference).max() <= 1


def test_fast_gives_rssn_both_colours_close_to_the_closed_form(demo_pairs) -> None:
    """--method fast (gfm.data.band_solver): F and B from one solve, near cf's, and they recompose the image."""
    _, image, alpha = demo_pairs[2]
    small = (cv2.resize(image, (200, 112), interpolation=cv2.INTER_AREA),
             cv2.resize(alpha, (200, 112), interpolation=cv2.INTER_AREA))
    f_cf, b_cf = estimate_foreground(*small, "cf")
    f_fast, b_fast = estimate_foreground(*small, "fast")
    assert f_fast.dtype == b_fast.dtype == np.uint8 and f_fast.shape == b_fast.shape == small[0].shape
    mostly_fg, mostly_bg = small[1] > 128, small[1] < 128
    assert np.abs(f_cf[mostly_fg].astype(int) - f_fast[mostly_fg]).mean() < 6.0
    assert np.abs(b_cf[mostly_bg].astype(int) - b_fast[mostly_bg]).mean() < 6.0
    assert np.abs(alpha_blend(f_fast, b_fast, small[1]).astype(int) - small[0]).mean() < 2.0
    assert (b_fast[small[1] == 0] == small[0][small[1] == 0]).all()  # B is the image where nothing is in front
