"""Scoring one sample of an evaluation, in two stages that may overlap.

:func:`predict_sample` runs the predictor on the sample's image (the GPU's part,
on the caller's thread); :func:`measure_sample` reads the ground truth and the
trimap and computes the metrics (the CPU's part: about 0.6-0.9 s for a
1620 x 1080 matte on one core, most of it in the released code's Grad and Conn).
:class:`Scorer` runs the second stage on a pool of threads (NumPy and OpenCV
release the GIL: two threads scored twice as fast here), so that on a GPU the
metrics of earlier samples are computed while the next sample is predicted.
Results come back in the samples' order, and a sample's error is raised when its
turn comes, as in one thread.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gfm.data.layouts import MattingSample
from gfm.errors import InputError
from gfm.io import read_image, write_alpha
from gfm.metrics.files import load_alpha_exact, load_trimap
from gfm.metrics.matting import evaluate_alpha
from gfm.metrics.trimap import trimap_from_alpha

#: ``predictor(image)``: ``uint8`` RGB ``(H, W, 3)`` -> float alpha ``(H, W)`` in [0, 1].
PredictFn = Callable[[np.ndarray], np.ndarray]

#: ``(metrics, prediction name, prediction seconds or None)`` of one sample.
Score = tuple[dict[str, float], str, float | None]


@dataclass(frozen=True)
class Predicted:
    """What :func:`predict_sample` returns: the predictor's alpha for the image of size ``image_shape``."""

    alpha: Any
    image_shape: tuple[int, int]
    seconds: float


def check_prediction(alpha: Any, shape: tuple[int, ...], where: str) -> np.ndarray:
    """A predictor's output as float64, or an :class:`InputError` naming ``where``."""
    if not isinstance(alpha, np.ndarray):
        raise InputError(f"{where}: the predictor returned {type(alpha).__name__}, not a numpy array")
    if alpha.shape != shape:
        raise InputError(f"{where}: the predictor returned shape {alpha.shape}, expected {shape} (the image's)")
    if alpha.dtype.kind != "f":
        raise InputError(f"{where}: the predictor returned dtype {alpha.dtype}; it must return float alpha in [0, 1]")
    low, high = float(np.min(alpha)), float(np.max(alpha))
    if not (0.0 <= low and high <= 1.0):
        raise InputError(f"{where}: the predictor returned values in [{low:g}, {high:g}], outside [0, 1]")
    return alpha.astype(np.float64)


def predict_sample(sample: MattingSample, predictor: PredictFn) -> Predicted:
    """Read the sample's image and time ``predictor`` on it (the call alone)."""
    image = read_image(sample.image)
    start = time.perf_counter()
    alpha = predictor(image)
    return Predicted(alpha, image.shape[:2], time.perf_counter() - start)


def measure_sample(
    sample: MattingSample,
    prediction: Path | None,
    predicted: Predicted | None,
    snap_trimaps: bool,
    save_predictions: str | os.PathLike[str] | None,
) -> Score:
    """The metrics of a prediction file (``prediction``) or of a predictor's output (``predicted``).

    Raises:
        InputError: sizes that disagree, bad values, unreadable files (naming the file).
    """
    gt = load_alpha_exact(sample.alpha)
    seconds: float | None = None
    if prediction is not None:
        pred = load_alpha_exact(prediction)
        if pred.shape != gt.shape:
            raise InputError(
                f"{prediction}: prediction is {pred.shape[1]}x{pred.shape[0]} but the ground truth "
                f"{sample.alpha} is {gt.shape[1]}x{gt.shape[0]} (width x height); predict at the "
                "ground truth's size"
            )
        prediction_name = prediction.name
    elif predicted is not None:
        height, width = predicted.image_shape
        if (height, width) != gt.shape:
            raise InputError(
                f"{sample.image}: image is {width}x{height} but its ground truth "
                f"{sample.alpha} is {gt.shape[1]}x{gt.shape[0]} (width x height)"
            )
        seconds = predicted.seconds
        pred = check_prediction(predicted.alpha, gt.shape, str(sample.image))
        prediction_name = "<predictor>"
        if save_predictions is not None:
            write_alpha(Path(save_predictions) / f"{sample.name}.png", pred)
    else:
        raise InputError(f"sample {sample.name!r}: neither a prediction file nor a predictor")
    if sample.trimap is not None:
        trimap = load_trimap(sample.trimap, snap=snap_trimaps)
        if trimap.shape != gt.shape:
            raise InputError(
                f"{sample.trimap}: trimap is {trimap.shape[1]}x{trimap.shape[0]} but the ground truth "
                f"{sample.alpha} is {gt.shape[1]}x{gt.shape[0]} (width x height)"
            )
    else:
        trimap = trimap_from_alpha(gt)
    return evaluate_alpha(pred, gt, trimap), prediction_name, seconds


class Scorer:
    """Scores samples in order, with the metrics on ``threads`` worker threads.

    ``threads=1`` scores each sample on the caller's thread, one after another
    (predict, then measure). With more, the caller's thread predicts while up to
    ``threads`` earlier samples are measured; memory holds at most ``threads + 1``
    predictions and their ground truths.

    Args:
        predictions: sample name -> prediction file (folder mode), or empty.
        predictor: the model (``None`` in folder mode).
    """

    def __init__(
        self,
        predictions: dict[str, Path],
        predictor: PredictFn | None,
        snap_trimaps: bool,
        save_predictions: str | os.PathLike[str] | None,
        threads: int = 1,
    ) -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self.predictions, self.predictor, self.threads = predictions, predictor, threads
        self.snap_trimaps, self.save_predictions = snap_trimaps, save_predictions

    def _measure(self, sample: MattingSample, predicted: Predicted | None) -> Score:
        return measure_sample(sample, self.predictions.get(sample.name), predicted, self.snap_trimaps, self.save_predictions)

    def scores(self, samples: list[MattingSample]) -> Iterator[tuple[MattingSample, Score]]:
        """``(sample, score)`` for each sample, in order; the first error (in order) is raised."""
        if self.threads == 1:
            for sample in samples:
                predicted = predict_sample(sample, self.predictor) if self.predictor is not None else None
                yield sample, self._measure(sample, predicted)
            return
        pending: deque[tuple[MattingSample, Future[Score]]] = deque()
        with ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="gfm-metrics") as pool:
            try:
                for sample in samples:
                    predicted = predict_sample(sample, self.predictor) if self.predictor is not None else None
                    pending.append((sample, pool.submit(self._measure, sample, predicted)))
                    del predicted
                    while len(pending) > self.threads or (pending and pending[0][1].done()):
                        done, future = pending.popleft()
                        yield done, future.result()
                while pending:
                    done, future = pending.popleft()
                    yield done, future.result()
            finally:
                for _, future in pending:  # an error or a stop: nothing new starts
                    future.cancel()


__all__ = ["PredictFn", "Predicted", "Score", "Scorer", "check_prediction", "measure_sample", "predict_sample"]
