"""Crop placement distribution, shrinking, flips and nearest-neighbour labels."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy import stats

from gfm.data.augment import AugmentConfig, augment, sample_crop, transition_pixels
from gfm.errors import ConfigError, InputError

CFG = AugmentConfig(crop_sizes=(128, 192, 256), out_size=64)


def _matte_bottom_right() -> np.ndarray:
    """A 600 x 800 matte whose only transition is a ring in the bottom right."""
    alpha = np.zeros((600, 800), np.uint8)
    cv2.circle(alpha, (560, 400), 60, 255, -1)
    return cv2.GaussianBlur(alpha, (9, 9), 0)


def test_crop_placement_distribution() -> None:
    alpha = _matte_bottom_right()
    trans = transition_pixels(alpha)
    is_trans = np.zeros(alpha.size, bool)
    is_trans[trans] = True
    rng = np.random.default_rng(0)
    crops = [sample_crop(alpha.shape, trans, rng, CFG) for _ in range(3000)]
    n = len(crops)
    centred = [c for c in crops if c.centred]
    uniform = [c for c in crops if not c.centred]
    assert abs(len(centred) / n - 0.5) < 4 * np.sqrt(0.25 / n)
    sizes = np.array([c.size for c in crops])
    assert stats.chisquare([np.sum(sizes == s) for s in (128, 192, 256)]).pvalue > 1e-3
    # Centred crops: the crop centre is a transition pixel (the ring is far from
    # the borders, so no window is shifted), and the mean centre is the ring's centre.
    centres = np.array([(c.top + c.size // 2, c.left + c.size // 2) for c in centred])
    assert is_trans[centres[:, 0] * alpha.shape[1] + centres[:, 1]].all()
    np.testing.assert_allclose(centres.mean(axis=0), (400, 560), atol=5)
    # Uniform crops: position uniform over the valid range, for every size.
    for s in (128, 192, 256):
        tops = np.array([c.top / (600 - s) for c in uniform if c.size == s])
        lefts = np.array([c.left / (800 - s) for c in uniform if c.size == s])
        assert stats.kstest(tops, "uniform").pvalue > 1e-3
        assert stats.kstest(lefts, "uniform").pvalue > 1e-3
    flips = np.mean([c.flip for c in crops])
    assert abs(flips - 0.5) < 4 * np.sqrt(0.25 / n)


def test_crop_shrinks_for_small_images_and_refuses_tiny_ones() -> None:
    rng = np.random.default_rng(0)
    cfg = AugmentConfig()  # 640 / 960 / 1280 -> 320
    for _ in range(20):
        c = sample_crop((400, 700), None, rng, cfg)
        assert c.size == 400 and 0 <= c.left <= 300 and c.top == 0
    with pytest.raises(InputError, match="300x250.*320"):
        sample_crop((250, 300), None, rng, cfg)
    with pytest.raises(ConfigError):
        AugmentConfig(p_flip=2.0)


def test_centred_crop_near_a_border_stays_inside() -> None:
    alpha = np.zeros((300, 300), np.uint8)
    alpha[:, :2] = 128  # transition at the left border
    rng = np.random.default_rng(0)
    cfg = AugmentConfig(crop_sizes=(200,), out_size=64, p_centre=1.0)
    for _ in range(50):
        c = sample_crop(alpha.shape, transition_pixels(alpha), rng, cfg)
        assert c.left == 0 and 0 <= c.top <= 100 and c.centred


def test_same_transform_on_every_array_and_nearest_labels() -> None:
    rng = np.random.default_rng(3)
    ramp = np.tile(np.arange(300, dtype=np.float32), (200, 1)) / 300  # increases left to right
    labels = (ramp * 3).astype(np.uint8)  # 0, 1, 2 bands
    image = np.repeat((ramp * 255).astype(np.uint8)[..., None], 3, axis=2)
    for _ in range(20):
        c = sample_crop(ramp.shape, None, rng, CFG)
        out = augment({"image": image, "ramp": ramp, "labels": labels}, c, 64, labels=("labels",))
        assert out["image"].shape == (64, 64, 3) and out["labels"].shape == (64, 64)
        assert set(np.unique(out["labels"]).tolist()) <= {0, 1, 2}
        # image and ramp agree, and labels are the ramp quantised (up to one band at edges)
        np.testing.assert_allclose(out["image"][..., 0] / 255, out["ramp"], atol=0.02)
        assert np.abs(out["labels"].astype(int) - (out["ramp"] * 3).astype(int)).max() <= 1
        direction = np.sign(out["ramp"][:, -1].mean() - out["ramp"][:, 0].mean())
        assert direction == (-1 if c.flip else 1)


def test_transition_pixels_of_a_hard_matte() -> None:
    alpha = np.zeros((50, 50), np.uint8)
    alpha[10:40, 10:40] = 255
    idx = transition_pixels(alpha)
    ys, xs = np.divmod(idx, 50)
    assert len(idx) > 0 and ys.min() >= 9 and ys.max() <= 40
    assert len(transition_pixels(np.zeros((10, 10), np.uint8))) == 0
