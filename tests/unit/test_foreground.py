"""Cutouts and composites from foreground colours and an alpha matte."""

from __future__ import annotations

import numpy as np

from gfm.inference.foreground import composite, cutout


def test_cutout_keeps_colours_where_visible_and_blacks_out_transparent_pixels() -> None:
    rng = np.random.default_rng(0)
    foreground = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    alpha = np.linspace(0.0, 1.0, 42, dtype=np.float32).reshape(6, 7)
    alpha[0, :3] = 0.001  # rounds to 0 in 8 bits: invisible, stored black
    rgba = cutout(foreground, alpha)
    a8 = np.rint(alpha * 255).astype(np.uint8)
    assert rgba.dtype == np.uint8 and rgba.shape == (6, 7, 4)
    np.testing.assert_array_equal(rgba[..., 3], a8)
    visible = a8 > 0
    np.testing.assert_array_equal(rgba[visible, :3], foreground[visible])
    assert (rgba[~visible, :3] == 0).all() and (~visible).sum() == 3


def test_composite_blends_over_a_colour() -> None:
    foreground = np.full((2, 2, 3), 200, np.uint8)
    alpha = np.array([[0.0, 0.25], [0.5, 1.0]], np.float32)
    out = composite(foreground, alpha, (0, 100, 40))
    expected = np.rint(alpha[..., None] * 200 + (1 - alpha[..., None]) * np.array([0, 100, 40])).astype(np.uint8)
    np.testing.assert_array_equal(out, expected)
