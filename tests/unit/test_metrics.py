"""Matting metrics against the values of the released GFM evaluation code."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gfm.errors import InputError
from gfm.metrics import (
    CONN_THRESHOLDS,
    METRIC_NAMES,
    conn,
    evaluate_alpha,
    grad,
    mad,
    mad_tran,
    mse,
    mse_tran,
    sad,
    sad_bg,
    sad_fg,
    sad_tran,
    trimap_from_alpha,
)

FIXTURES = Path(__file__).parents[1] / "data" / "metrics"
OFFICIAL = json.loads((FIXTURES / "official_values.json").read_text())

SINGLE = {
    "SAD": lambda p, g, t: sad(p, g),
    "MSE": lambda p, g, t: mse(p, g),
    "MAD": lambda p, g, t: mad(p, g),
    "GRAD": lambda p, g, t: grad(p, g),
    "CONN": lambda p, g, t: conn(p, g),
    "SAD_TRAN": sad_tran,
    "MSE_TRAN": mse_tran,
    "MAD_TRAN": mad_tran,
    "SAD_FG": sad_fg,
    "SAD_BG": sad_bg,
}


def _png(name: str) -> np.ndarray:
    return np.asarray(Image.open(FIXTURES / name))


def _case(key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    entry = OFFICIAL[key]
    pred = _png(entry["pred"]).astype(np.float64) / 255
    gt = _png(entry["gt"]).astype(np.float64) / 255
    return pred, gt, _png(entry["trimap"])


@pytest.mark.parity
@pytest.mark.parametrize("key", sorted(OFFICIAL))
def test_evaluate_alpha_matches_released_code(key: str) -> None:
    pred, gt, trimap = _case(key)
    result = evaluate_alpha(pred, gt, trimap)
    assert tuple(result) == METRIC_NAMES
    for name, expected in OFFICIAL[key]["official"].items():
        assert result[name] == pytest.approx(expected, rel=1e-6, abs=1e-12), name


@pytest.mark.parity
@pytest.mark.parametrize("key", ["sample1_noisy", "sample3_speckle", "sample1_zeros"])
def test_each_metric_alone_matches_released_code(key: str) -> None:
    pred, gt, trimap = _case(key)
    for name, fn in SINGLE.items():
        value = fn(pred, gt, trimap)
        assert isinstance(value, float)
        assert value == pytest.approx(OFFICIAL[key]["official"][name], rel=1e-6, abs=1e-12), name


def test_thresholds_are_numpy_arange_values() -> None:
    assert CONN_THRESHOLDS.dtype == np.float64
    assert CONN_THRESHOLDS.size == 11
    assert CONN_THRESHOLDS[3] == 0.30000000000000004
    assert CONN_THRESHOLDS[6] == 0.6000000000000001
    assert CONN_THRESHOLDS[-1] == 1.0


def test_float32_inputs_differ_on_the_threshold_edge() -> None:
    # 153/255 == 0.6 in float64 (< 0.6000000000000001) but not in float32:
    # why the runner reads files as float64.
    gt = np.full((3, 4), 153 / 255)
    gt[:, :2] = 1.0
    pred = np.ones((3, 4))
    # float64: the 0.6 pixels leave the component at 0.6000000000000001
    # (level 0.5, phi_pred = 0.5); float32 keeps them one threshold longer.
    assert conn(pred, gt) == pytest.approx(6 * 0.5 / 1000)
    assert conn(pred.astype(np.float32), gt.astype(np.float32)) != pytest.approx(6 * 0.5 / 1000)


def test_hand_computed_values() -> None:
    gt = np.zeros((4, 5))
    gt[1:3, 1:4] = 1.0
    pred = gt.copy()
    pred[0, 0] = 0.5  # a background error
    pred[1, 1] = 0.75  # a foreground error
    trimap = np.zeros((4, 5), np.uint8)
    trimap[1:3, 1:4] = 255
    trimap[0, :] = 128
    assert sad(pred, gt) == pytest.approx(0.75 / 1000)
    assert mse(pred, gt) == pytest.approx((0.25 + 0.0625) / 20)
    assert mad(pred, gt) == pytest.approx(0.75 / 20)
    assert sad_fg(pred, gt, trimap) == pytest.approx(0.25 / 1000)
    assert sad_bg(pred, gt, trimap) == 0.0  # (0, 0) lies in the transition row
    # pred forced to 1 on the 255 pixels: only the transition error remains
    assert sad_tran(pred, gt, trimap) == pytest.approx(0.5 / 1000)
    assert mse_tran(pred, gt, trimap) == pytest.approx(0.25 / 5)
    assert mad_tran(pred, gt, trimap) == pytest.approx(0.5 / 5)
    assert grad(gt, gt) == 0.0
    assert conn(gt, gt) == 0.0
    assert grad(pred, gt) > 0.0


def test_perfect_prediction_scores_zero() -> None:
    pred, gt, trimap = _case("sample1_blur")
    result = evaluate_alpha(gt, gt, trimap)
    assert all(value == 0.0 for value in result.values())


def test_tran_metrics_without_transition_are_nan() -> None:
    gt = np.ones((6, 6))
    trimap = np.full((6, 6), 255, np.uint8)
    pred = np.full((6, 6), 0.5)
    result = evaluate_alpha(pred, gt, trimap)
    assert result["SAD_TRAN"] == 0.0
    assert math.isnan(result["MSE_TRAN"]) and math.isnan(result["MAD_TRAN"])
    assert result["SAD_FG"] == pytest.approx(36 * 0.5 / 1000)


@pytest.mark.parametrize("name", ["sample1", "sample3"])
def test_trimap_from_alpha_reproduces_dataset_trimaps(name: str) -> None:
    gt = _png(f"{name}_gt.png").astype(np.float64) / 255
    trimap = trimap_from_alpha(gt)
    assert trimap.dtype == np.uint8
    np.testing.assert_array_equal(trimap, _png(f"{name}_trimap.png"))


# -- validation ---------------------------------------------------------------


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(InputError, match=r"resize the prediction"):
        sad(np.zeros((4, 4)), np.zeros((4, 5)))


@pytest.mark.parametrize(
    ("pred", "message"),
    [
        (np.full((4, 4), 1.5), r"outside \[0, 1\].*divide 8-bit"),
        (np.full((4, 4), -0.1), r"outside \[0, 1\]"),
        (np.full((4, 4), np.nan), r"NaN"),
        (np.full((4, 4), 200, np.uint8), r"dtype uint8.*divide by 255"),
        (np.zeros((4, 4, 1)), r"2-D \(H, W\)"),
        (np.zeros((4, 4, 3)), r"2-D \(H, W\)"),
        ([[0.0, 1.0]], r"numpy array"),
    ],
)
def test_bad_alpha_is_an_error(pred: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        mse(pred, np.zeros((4, 4)))  # type: ignore[arg-type]


def test_bad_trimap_values_are_an_error_that_says_how_to_fix() -> None:
    trimap = np.zeros((4, 4), np.uint8)
    trimap[0, 0] = 127
    with pytest.raises(InputError, match=r"0/128/255 \(127; 1 pixels\).*nearest-neighbour"):
        evaluate_alpha(np.zeros((4, 4)), np.zeros((4, 4)), trimap)


def test_trimap_shape_and_dtype_checks() -> None:
    alpha = np.zeros((4, 4))
    with pytest.raises(InputError, match=r"trimap has shape"):
        sad_fg(alpha, alpha, np.zeros((4, 5), np.uint8))
    with pytest.raises(InputError, match=r"other values"):
        sad_bg(alpha, alpha, np.full((4, 4), 0.5))
    # an integer trimap with valid values is accepted
    assert sad_bg(alpha, alpha, np.full((4, 4), 128, np.int64)) == 0.0
