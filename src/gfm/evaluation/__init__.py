"""Evaluating a model or a folder of predictions on a whole dataset.

* :mod:`gfm.evaluation.datasets`: the validation split of a dataset folder
  (:func:`discover_dataset`) or of plain folders (:func:`folder_dataset`), as
  :class:`~gfm.data.layouts.MattingSplit` like every other dataset of gfm;
* :mod:`gfm.evaluation.runner`: :func:`evaluate` scores every sample with
  :func:`gfm.metrics.evaluate_alpha` and writes the reports (resumable);
* :mod:`gfm.evaluation.sweep`: the test-resolution sweep of the paper's Table 6.

The metric functions themselves are :mod:`gfm.metrics`.

Example::

    from gfm.evaluation import discover_dataset, evaluate
    result = evaluate(discover_dataset("datasets/AM-2k"), "eval/am2k", predictions="results/am2k")
    result.means["SAD"]
"""

from gfm.evaluation.datasets import discover_dataset, folder_dataset
from gfm.evaluation.runner import EvaluationResult, PredictFn, evaluate, find_predictions
from gfm.evaluation.sweep import SweepResult, SweepSetting, default_settings, parse_settings, run_sweep

__all__ = [
    "EvaluationResult",
    "PredictFn",
    "SweepResult",
    "SweepSetting",
    "default_settings",
    "discover_dataset",
    "evaluate",
    "find_predictions",
    "folder_dataset",
    "parse_settings",
    "run_sweep",
]
