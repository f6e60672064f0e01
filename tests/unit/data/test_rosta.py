"""RoSTa targets on real mattes: classes, kernels, and fusion gives alpha back."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy import ndimage

from gfm.data.rosta import (
    ellipse,
    focus_target,
    fuse,
    glance_in_window,
    make_glance_target,
    make_rosta_target,
    make_trimap,
)
from gfm.errors import ConfigError, InputError


@pytest.mark.parametrize("rosta", ["TT", "FT", "BT"])
def test_fusion_of_targets_gives_the_alpha_back(demo_pairs, rosta: str) -> None:
    for _, _, alpha in demo_pairs:
        t = make_rosta_target(alpha, rosta)
        assert t.glance.dtype == np.uint8 and t.glance.shape == alpha.shape
        assert set(np.unique(t.glance).tolist()) == ({0, 1, 2} if rosta == "TT" else {0, 1})
        assert t.focus.dtype == np.float32 and 0 <= t.focus.min() and t.focus.max() <= 1
        np.testing.assert_allclose(fuse(t.glance, t.focus, rosta), alpha / 255.0, atol=1e-6)


def _reference(alpha: np.ndarray, kernel: int) -> tuple[np.ndarray, np.ndarray]:
    """scipy oracle with OpenCV's ellipse: (dilate(alpha>0), erode(alpha==255))."""
    k = ellipse(kernel).astype(bool)
    # cv2 anchors a k x k element at (k // 2, k // 2); scipy at (k - 1) // 2 via origin.
    origin = (k.shape[0] // 2 - (k.shape[0] - 1) // 2) * -1
    dil = ndimage.binary_dilation(alpha > 0, k, origin=origin)
    ero = ndimage.binary_erosion(alpha == 255, k, origin=origin, border_value=1)
    return dil, ero


def test_trimap_matches_a_scipy_oracle(demo_pairs) -> None:
    for _, _, alpha in demo_pairs:
        dil, ero = _reference(alpha, 25)
        expected = dil.astype(np.uint8) + ero.astype(np.uint8)
        np.testing.assert_array_equal(make_trimap(alpha), expected)
        tri = make_trimap(alpha)
        soft = (alpha > 0) & (alpha < 255)
        assert np.all(tri[soft] == 1)  # every soft pixel is in the transition
        assert np.all(alpha[tri == 2] == 255) and np.all(alpha[tri == 0] == 0)


def test_kernel_sizes_are_25_and_50_px_ellipses() -> None:
    point = np.zeros((121, 121), np.uint8)
    point[60, 60] = 128  # soft: alpha > 0 but not 1
    tri = make_trimap(point)
    assert (tri == 1).sum() == ellipse(25).sum()
    bt = make_glance_target(point, "BT")
    assert bt.sum() == ellipse(50).sum()
    ys, xs = np.nonzero(bt)
    assert xs.max() - xs.min() + 1 == 50 - 1 or xs.max() - xs.min() + 1 == 50
    # the ellipse is round, not the square box
    assert ellipse(50).sum() < 0.8 * 50 * 50
    disk = np.zeros((200, 200), np.uint8)
    cv2.circle(disk, (100, 100), 60, 255, -1)
    ft = make_glance_target(disk, "FT")
    assert ft.sum() == pytest.approx(np.pi * 35**2, rel=0.06)  # radius 60 - 25


def test_ft_and_bt_supervision_areas(demo_pairs) -> None:
    _, _, alpha = demo_pairs[1]
    a = alpha / 255.0
    ft = make_rosta_target(alpha, "FT")
    np.testing.assert_array_equal(ft.focus_mask, (alpha > 0) & (ft.glance == 0))
    np.testing.assert_allclose(ft.focus[ft.focus_mask], a[ft.focus_mask], atol=1e-6)
    bt = make_rosta_target(alpha, "BT")
    np.testing.assert_array_equal(bt.focus_mask, (bt.glance == 1) & (alpha < 255))
    np.testing.assert_allclose(bt.focus[bt.focus_mask], 1 - a[bt.focus_mask], atol=1e-6)
    tt = make_rosta_target(alpha, "TT")
    np.testing.assert_array_equal(tt.focus_mask, tt.glance == 1)
    # float and uint8 alphas give the same maps
    np.testing.assert_array_equal(make_glance_target(a.astype(np.float32), "FT"), ft.glance)


def test_window_computation_equals_full_image(demo_pairs) -> None:
    rng = np.random.default_rng(1)
    _, _, alpha = demo_pairs[0]
    h, w = alpha.shape
    for rosta in ("TT", "FT", "BT"):
        full = make_glance_target(alpha, rosta)
        tri = make_trimap(alpha)
        for _ in range(10):
            s = int(rng.integers(20, min(h, w)))
            t, l = int(rng.integers(h - s + 1)), int(rng.integers(w - s + 1))
            np.testing.assert_array_equal(glance_in_window(alpha, rosta, t, l, s, s), full[t : t + s, l : l + s])
            np.testing.assert_array_equal(
                glance_in_window(alpha, rosta, t, l, s, s, trimap=True), tri[t : t + s, l : l + s]
            )


def test_focus_target_on_resized_maps() -> None:
    alpha = np.array([[0.0, 0.3], [1.0, 1.0]], np.float32)
    glance = np.array([[0, 0], [1, 0]], np.uint8)
    focus, mask = focus_target(alpha, glance, "FT")
    assert mask.tolist() == [[False, True], [False, True]]
    np.testing.assert_allclose(focus, [[0, 0.3], [0, 1]])


def test_bad_inputs() -> None:
    with pytest.raises(ConfigError, match="RoSTa"):
        make_rosta_target(np.zeros((4, 4), np.uint8), "XT")
    with pytest.raises(InputError, match="shape"):
        make_trimap(np.zeros((4, 4, 3), np.uint8))
