"""Matting metrics and evaluation.

* :mod:`gfm.metrics.matting`: SAD, MSE, MAD, Grad, Conn and the trimap-area
  variants, exactly as the paper's tables compute them (:func:`evaluate_alpha`
  gives all ten);
* :mod:`gfm.metrics.trimap`: trimaps from ground-truth alphas.
"""

from gfm.metrics.matting import (
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
)
from gfm.metrics.trimap import trimap_from_alpha

__all__ = [
    "CONN_THRESHOLDS",
    "METRIC_NAMES",
    "conn",
    "evaluate_alpha",
    "grad",
    "mad",
    "mad_tran",
    "mse",
    "mse_tran",
    "sad",
    "sad_bg",
    "sad_fg",
    "sad_tran",
    "trimap_from_alpha",
]
