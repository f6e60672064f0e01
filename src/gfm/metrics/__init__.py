"""Matting metrics: what a researcher imports to score a matte.

* :mod:`gfm.metrics.matting`: SAD, MSE, MAD, Grad, Conn and the trimap-area
  variants, exactly as the paper's tables compute them (:func:`evaluate_alpha`
  gives all ten);
* :mod:`gfm.metrics.trimap`: trimaps from ground-truth alphas;
* :mod:`gfm.metrics.files`: alpha and trimap files read as the paper's
  numbers read them.

Pure functions on arrays (and two file readers): the evaluation of a whole
dataset, with its reports and the resolution sweep, is :mod:`gfm.evaluation`;
parameter, MAC and latency profiles are :mod:`gfm.profiling`.

Example::

    from gfm.metrics import evaluate_alpha, load_alpha_exact, trimap_from_alpha
    gt = load_alpha_exact("mask/m_1.png")
    scores = evaluate_alpha(load_alpha_exact("pred/m_1.png"), gt, trimap_from_alpha(gt))
    scores["SAD"], scores["CONN"]
"""

from gfm.metrics.files import load_alpha_exact, load_trimap
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
    "load_alpha_exact",
    "load_trimap",
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
