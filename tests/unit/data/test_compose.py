"""RSSN steps: statistics of every random choice and the composite equation."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy import stats

from gfm.data.compose import (
    BLUR_KERNELS,
    CompositionChoices,
    add_gaussian_noise,
    alpha_blend,
    apply_fit,
    blur_background,
    compose,
    fit_scale,
    route_config,
    sample_backgrounds,
    sample_choices,
    sample_fit,
)
from gfm.errors import ConfigError, InputError


def _choices(n: int, route: str = "rssn", seed: int = 0) -> list[CompositionChoices]:
    rng = np.random.default_rng(seed)
    cfg = route_config(route)
    return [sample_choices(rng, cfg, 0, (1080, 1620), (400, 300)) for _ in range(n)]


def test_step_probabilities_and_blur_kernel_distribution() -> None:
    n = 4000
    draws = _choices(n)
    tol = 4 * np.sqrt(0.25 / n)
    for key in ("denoise_fg", "denoise_bg", "noise"):
        assert abs(np.mean([getattr(c, key) for c in draws]) - 0.5) < tol, key
    both = np.mean([c.denoise_fg and c.denoise_bg for c in draws])
    assert abs(both - 0.25) < 4 * np.sqrt(0.1875 / n)  # decided independently
    kernels = [c.blur_kernel for c in draws]
    blurred = [k for k in kernels if k is not None]
    assert abs(len(blurred) / n - 0.5) < tol
    assert set(blurred) == set(BLUR_KERNELS)
    assert stats.chisquare([blurred.count(k) for k in BLUR_KERNELS]).pvalue > 1e-3
    assert len({c.noise_seed for c in draws}) > n * 0.99


@pytest.mark.parametrize("route", ["bg20k", "coco"])
def test_baselines_are_plain_blending(route: str) -> None:
    for c in _choices(300, route):
        assert not (c.denoise_fg or c.denoise_bg or c.noise) and c.blur_kernel is None
    with pytest.raises(ConfigError, match="route"):
        route_config("rssn2")


def test_blur_is_an_opencv_box_filter() -> None:
    image = np.zeros((201, 201, 3), np.float32)
    image[100, 100] = 1.0
    for k in BLUR_KERNELS:
        out = blur_background(image, k)
        assert np.count_nonzero(out[..., 0]) == k * k
        np.testing.assert_allclose(out[..., 0].sum(), 1.0, rtol=1e-5)
        np.testing.assert_allclose(out[out > 0], 1.0 / (k * k), rtol=1e-5)
    flat = np.full((100, 100, 3), 77, np.uint8)
    assert np.all(blur_background(flat, 60) == 77)


def test_noise_standard_deviation_and_clipping() -> None:
    gray = np.full((512, 512, 3), 128, np.uint8)
    out = add_gaussian_noise(gray, 10.0, seed=1)
    diff = out.astype(np.float64) - 128
    assert abs(diff.std() - 10.0) < 0.1 and abs(diff.mean()) < 0.1
    # Clipped, not wrapped: a black image stays dark, a white one bright.
    # P(value rounds to 0) = P(noise < 0.5).
    p_edge = stats.norm.cdf(0.5 / 10.0)
    black = add_gaussian_noise(np.zeros((256, 256, 3), np.uint8), 10.0, seed=2)
    assert black.max() < 80 and abs(np.mean(black == 0) - p_edge) < 0.005
    white = add_gaussian_noise(np.full((256, 256, 3), 255, np.uint8), 10.0, seed=3)
    assert white.min() > 175 and abs(np.mean(white == 255) - p_edge) < 0.005
    # Deterministic for a seed, different across seeds.
    np.testing.assert_array_equal(out, add_gaussian_noise(gray, 10.0, seed=1))
    assert not np.array_equal(out, add_gaussian_noise(gray, 10.0, seed=4))


def test_background_is_never_stretched() -> None:
    rng = np.random.default_rng(0)
    for _ in range(300):
        bh, bw, fh, fw = (int(x) for x in rng.integers(50, 2000, 4))
        scale, (rh, rw) = fit_scale((bh, bw), (fh, fw))
        assert rh >= fh and rw >= fw and (rh == fh or rw == fw)  # covers, minimally
        assert abs(rh - bh * scale) <= 1 and abs(rw - bw * scale) <= 1  # one scale for both axes
    # A round spot stays round when a wide background is fitted to a tall foreground.
    bg = np.zeros((400, 1200, 3), np.uint8)
    cv2.circle(bg, (600, 200), 40, (255, 255, 255), -1)
    fit = sample_fit(bg.shape[:2], (900, 300), np.random.default_rng(0))
    fit = type(fit)(fit.scale, fit.resized_hw, fit.top, (fit.resized_hw[1] - 300) // 2, 900, 300)
    out = apply_fit(bg, fit)
    ys, xs = np.nonzero(out[..., 0] > 127)
    assert out.shape == (900, 300, 3)
    assert (ys.max() - ys.min()) == pytest.approx(xs.max() - xs.min(), abs=3)
    assert (ys.max() - ys.min()) == pytest.approx(80 * 900 / 400, abs=4)


def test_crop_position_is_uniform() -> None:
    rng = np.random.default_rng(0)
    fits = [sample_fit((1080, 1620), (500, 500), rng) for _ in range(2000)]
    assert all(f.top == 0 for f in fits)  # height matches exactly
    assert stats.kstest([f.left / (f.resized_hw[1] - 500) for f in fits], "uniform").pvalue > 1e-3


def test_k_distinct_backgrounds_from_the_whole_set() -> None:
    rng = np.random.default_rng(0)
    counts = np.zeros(40, int)
    for _ in range(2000):
        idx = sample_backgrounds(40, 5, rng)
        assert len(set(idx.tolist())) == 5
        counts[idx] += 1
    assert counts.min() > 0 and stats.chisquare(counts).pvalue > 1e-3
    with pytest.raises(InputError, match="empty"):
        sample_backgrounds(0, 5, rng)
    with pytest.raises(InputError, match="only 3"):
        sample_backgrounds(3, 5, rng)


def test_blending_rounds_in_float() -> None:
    fg = np.full((2, 2, 3), 1, np.uint8)
    bg = np.zeros((2, 2, 3), np.uint8)
    alpha = np.full((2, 2), 0.7, np.float32)
    assert np.all(alpha_blend(fg, bg, alpha) == 1)  # truncation would give 0
    rng = np.random.default_rng(0)
    f = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    a = rng.integers(0, 256, (64, 64), dtype=np.uint8)
    ref = np.rint(a[..., None] / 255.0 * f + (1 - a[..., None] / 255.0) * b)
    out = alpha_blend(f, b, a).astype(int)
    assert np.abs(out - ref).max() <= 1 and np.mean(out != ref) < 1e-3


def test_composite_equation_on_real_demo_images(demo_pairs, backgrounds_dir) -> None:
    from gfm.io import read_image

    background = read_image(sorted(backgrounds_dir.iterdir())[0])
    rng = np.random.default_rng(0)
    for _, image, alpha in demo_pairs:
        fg = image  # any colours will do for the equation
        for route in ("rssn", "coco"):
            choices = sample_choices(rng, route_config(route), 0, background.shape[:2], alpha.shape)
            choices = CompositionChoices(0, choices.fit, False, False, 40 if route == "rssn" else None,
                                         route == "rssn", 123, route)
            comp = compose(fg, alpha, background, choices)
            a = alpha[..., None] / 255.0
            recon = a * comp.fg + (1 - a) * comp.bg
            inside = (comp.fg > 0) & (comp.fg < 255) & (comp.bg > 0) & (comp.bg < 255)  # unclipped
            assert np.abs(comp.image - recon)[inside].max() <= 1.0
            if route == "coco":  # no noise, no blur: exactly the rounded equation with the fitted bg
                bg = apply_fit(background, choices.fit)
                np.testing.assert_array_equal(comp.bg, bg)
                ref = np.rint(a * fg + (1 - a) * bg)
                assert np.abs(comp.image - ref).max() <= 1
            else:
                np.testing.assert_array_equal(comp.image, compose(fg, alpha, background, choices).image)


def test_compose_uses_the_denoised_versions_it_is_told_to() -> None:
    fg = np.full((20, 30, 3), 10, np.uint8)
    alpha = np.full((20, 30), 255, np.uint8)
    alpha[:, 15:] = 0
    bg = np.full((40, 60, 3), 200, np.uint8)
    fit = sample_fit(bg.shape[:2], fg.shape[:2], np.random.default_rng(0))
    choices = CompositionChoices(0, fit, True, True, None, False, 0)
    out = compose(fg, alpha, bg, choices, fg_denoised=fg + 5, bg_denoised=bg - 50)
    assert np.all(out.image[:, :15] == 15) and np.all(out.image[:, 15:] == 150)
    with pytest.raises(InputError, match="denoised foreground"):
        compose(fg, alpha, bg, choices)
    with pytest.raises(InputError, match="does not match"):
        compose(fg, alpha[:, :10], bg, choices)
