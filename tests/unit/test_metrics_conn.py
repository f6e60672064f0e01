"""The fast connectivity metric equals the slow reference, bit for bit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from metrics_reference import conn_reference
from PIL import Image

from gfm.metrics import conn

FIXTURES = Path(__file__).parents[1] / "data" / "metrics"


def _random_pair(rng: np.random.Generator, kind: int) -> tuple[np.ndarray, np.ndarray]:
    h, w = (int(v) for v in rng.integers(1, 48, 2))
    if kind == 0:  # continuous values
        return rng.random((h, w)), rng.random((h, w))
    if kind == 1:  # 8-bit values, as read from PNG files
        return rng.integers(0, 256, (h, w)) / 255, rng.integers(0, 256, (h, w)) / 255
    if kind == 2:  # few levels, many equal-size components (ties), threshold edges
        levels = np.array([0.0, 0.2, 0.6, 153 / 255, 0.30000000000000004, 1.0])
        return rng.choice(levels, (h, w)), rng.choice(levels, (h, w))
    # smooth blobs, like mattes
    base = rng.random((max(h // 6, 1) + 1, max(w // 6, 1) + 1))
    gt = np.clip(np.kron(base, np.ones((6, 6)))[:h, :w] * 1.6 - 0.3, 0, 1)
    pred = np.clip(gt + rng.normal(0, 0.15, gt.shape), 0, 1)
    return pred, gt


@pytest.mark.parametrize("seed", range(4))
def test_fast_equals_reference_on_random_mattes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for trial in range(60):
        pred, gt = _random_pair(rng, trial % 4)
        assert conn(pred, gt) == conn_reference(pred, gt), (seed, trial)


def test_ties_go_to_the_first_component_in_row_major_order() -> None:
    gt = np.zeros((7, 9))
    gt[1:3, 1:3] = 1.0  # component A, first in row-major order
    gt[4:6, 5:7] = 1.0  # component B, same size
    pred = gt.copy()
    pred[4:6, 5:7] = 0.35  # A and B tie at thresholds 0.1 .. 0.3
    # A wins the tie: B leaves at 0.1 (level 0): |phi_pred - phi_gt| = 0.65 a pixel
    assert conn(pred, gt) == pytest.approx(4 * 0.65 / 1000)
    assert conn(pred, gt) == conn_reference(pred, gt)
    # flipped, B comes first and wins: A leaves at 0.1 (no error), B at 0.4
    # (level float32(0.3)): 0.7 a pixel
    flipped_pred, flipped_gt = pred[::-1, ::-1].copy(), gt[::-1, ::-1].copy()
    assert conn(flipped_pred, flipped_gt) == pytest.approx(4 * 0.7 / 1000, rel=1e-6)
    assert conn(flipped_pred, flipped_gt) == conn_reference(flipped_pred, flipped_gt)


@pytest.mark.parametrize(
    ("pred_value", "gt_value"), [(0.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.55, 0.35), (0.05, 1.0)]
)
def test_constant_mattes(pred_value: float, gt_value: float) -> None:
    pred = np.full((5, 6), pred_value)
    gt = np.full((5, 6), gt_value)
    assert conn(pred, gt) == conn_reference(pred, gt)


def test_fast_equals_reference_on_fixture_mattes() -> None:
    official = json.loads((FIXTURES / "official_values.json").read_text())
    for key in ("sample1_noisy", "sample1_speckle", "sample3_blur", "sample3_hard", "sample3_zeros"):
        entry = official[key]
        pred = np.asarray(Image.open(FIXTURES / entry["pred"])).astype(np.float64) / 255
        gt = np.asarray(Image.open(FIXTURES / entry["gt"])).astype(np.float64) / 255
        assert conn(pred, gt) == conn_reference(pred, gt), key
        # and with the roles swapped (a prediction used as the ground truth)
        assert conn(gt, pred) == conn_reference(gt, pred), key
