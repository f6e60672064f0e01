"""gfm.evaluation.scoring.Scorer: metrics on threads give the rows of one thread, in order, and the same errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from gfm.errors import InputError
from gfm.evaluation.datasets import folder_dataset
from gfm.evaluation.runner import evaluate
from gfm.io import read_alpha

AM2K = Path(__file__).parents[1] / "data" / "am2k"


def _blurred_truth(image: np.ndarray) -> np.ndarray:
    """A deterministic 'prediction': the ground truth of the image of that size, blurred a little."""
    import cv2

    for mask in sorted((AM2K / "mask").iterdir()):
        gt = read_alpha(mask)
        if gt.shape == image.shape[:2]:
            return np.clip(cv2.GaussianBlur(gt, (5, 5), 0), 0, 1).astype(np.float32)
    raise AssertionError("no ground truth of that size")


def _dataset(tmp_path: Path):  # type: ignore[no-untyped-def]
    for folder in ("original", "mask"):
        shutil.copytree(AM2K / folder, tmp_path / folder)
    return folder_dataset(tmp_path / "original", tmp_path / "mask")


def test_metric_threads_give_the_rows_and_means_of_one_thread(tmp_path: Path) -> None:
    dataset = _dataset(tmp_path / "data")
    one = evaluate(dataset, tmp_path / "one", predictor=_blurred_truth, progress=False)
    three = evaluate(dataset, tmp_path / "three", predictor=_blurred_truth, progress=False, metric_threads=3)
    assert three.per_image == one.per_image and three.means == one.means and three.count == 3
    folder = evaluate(dataset, tmp_path / "folder", predictions=AM2K / "mask", progress=False, metric_threads=2)
    assert folder.means["SAD"] == 0.0 and folder.count == 3  # the truth scored against itself


def test_an_error_with_metric_threads_names_the_file_and_keeps_the_rows_before_it(tmp_path: Path) -> None:
    dataset = _dataset(tmp_path / "data")
    calls = []

    def wrong_size_for_the_second(image: np.ndarray) -> np.ndarray:
        calls.append(image.shape)
        alpha = _blurred_truth(image)
        return alpha[:-1] if len(calls) == 2 else alpha

    with pytest.raises(InputError, match=r"sample2\.jpg: the predictor returned shape"):
        evaluate(dataset, tmp_path / "out", predictor=wrong_size_for_the_second, progress=False, metric_threads=2)
    rows = (tmp_path / "out" / "per_image.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["sample1"]  # scored before the bad one; resume keeps it
