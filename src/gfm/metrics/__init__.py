"""Matting metrics and evaluation.

* :mod:`gfm.metrics.matting`: SAD, MSE, MAD, Grad, Conn and the trimap-area
  variants, exactly as the paper's tables compute them (:func:`evaluate_alpha`
  gives all ten);
* :mod:`gfm.metrics.trimap`: trimaps from ground-truth alphas;
* :mod:`gfm.metrics.datasets`: AM-2k / P3M-10k / folder discovery;
* :mod:`gfm.metrics.evaluation`: the runner over a folder of predictions or a
  predictor callable, writing CSV / JSON / Markdown reports.
"""

from gfm.metrics.datasets import EvalDataset, EvalSample, discover_dataset, folder_dataset
from gfm.metrics.evaluation import (
    EvaluationResult,
    PredictFn,
    evaluate,
    find_predictions,
    load_alpha_exact,
    load_trimap,
)
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
    "EvalDataset",
    "EvalSample",
    "EvaluationResult",
    "PredictFn",
    "conn",
    "discover_dataset",
    "evaluate",
    "evaluate_alpha",
    "find_predictions",
    "folder_dataset",
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
