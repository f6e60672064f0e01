"""Evaluate predicted alphas against a dataset's ground truth.

:func:`evaluate` scores every sample of a :class:`~gfm.data.layouts.MattingSplit`
with :func:`gfm.metrics.evaluate_alpha`, taking the predictions either from a
folder (``NAME.png`` or ``NAME_alpha.png``, matched by file stem) or from a
``predictor(image_rgb_uint8) -> alpha`` callable, and writes to ``out_dir``:

* ``per_image.csv``: one row an image, every metric at full precision (and,
  with a predictor, the seconds its call took), rewritten atomically every
  few seconds and when the run stops (error or Ctrl-C included), so an
  interrupted run can resume;
* ``summary.json``: the mean of each metric (a per-image mean, as in the
  paper), the image count, the mean prediction time and the settings;
* ``table.md``: a Markdown row laid out like the paper's Table 1
  (SAD, MSE, MAD, Grad, Conn, SAD-TRAN, SAD-FG, SAD-BG).

(The formats themselves are :mod:`gfm.evaluation.reports`.)

Files are read as the released evaluation code read them
(:mod:`gfm.metrics.files`): alphas become
float64 ``value / 255`` (8-bit) or ``value / 65535`` (16-bit); a gray matte
stored as RGB is accepted only if its channels are equal. Trimaps must hold
only 0 / 128 / 255 unless ``snap_trimaps`` maps each value to the nearest of
them. Missing trimaps are generated from the ground truth (25 x 25 elliptical
kernel, see :func:`gfm.metrics.trimap_from_alpha`) and the reports say so.
Any mismatch (sizes, missing predictions, bad values) raises
:class:`~gfm.errors.InputError` naming the file; nothing is silently skipped.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from gfm.data.layouts import MattingSample, MattingSplit, is_image_file
from gfm.errors import InputError, OutputError
from gfm.evaluation.datasets import dataset_source
from gfm.evaluation.reports import (
    CSV_NAME,
    JSON_NAME,
    MARKDOWN_NAME,
    check_resume,
    format_csv,
    format_table,
    mean_seconds,
    metric_means,
    read_csv,
    write_report,
)
from gfm.evaluation.scoring import PredictFn, Scorer
from gfm.io import read_image
from gfm.io.atomic import remove_stale_temporaries
from gfm.metrics.matting import CONN_THRESHOLDS, GRAD_SIGMA, METRIC_NAMES
from gfm.metrics.trimap import DEFAULT_TRIMAP_KERNEL

__all__ = [
    "CSV_FLUSH_SECONDS",
    "EvaluationResult",
    "PredictFn",
    "evaluate",
    "find_predictions",
]

#: Longest time between two rewrites of ``per_image.csv`` during a run.
CSV_FLUSH_SECONDS = 5.0

#: Under torchrun each process keeps its rows in ``per_image.partRANK.csv`` until the
#: end, when rank 0 merges them into ``per_image.csv``; resume reads them too.
PART_GLOB = "per_image.part*.csv"


class Shard(Protocol):
    """Which share of the images this process scores (:class:`gfm.sharding.Shard`)."""

    rank: int
    world_size: int

    def take(self, items: list[MattingSample]) -> list[MattingSample]: ...
    def all_gather(self, value: Any) -> list[Any]: ...
    def on_main(self, work: Callable[[], Any]) -> Any: ...
    def raise_first(self, error: BaseException | None) -> None: ...

_ALPHA_SUFFIX = "_alpha"


# --------------------------------------------------------------------------
# predictions
# --------------------------------------------------------------------------


def find_predictions(
    pred_dir: str | os.PathLike[str], names: list[str]
) -> tuple[dict[str, Path], list[str], list[str]]:
    """Match prediction files to sample names.

    ``NAME.EXT`` and ``NAME_alpha.EXT`` both match sample ``NAME`` (EXT any of
    :data:`~gfm.data.layouts.IMAGE_SUFFIXES`); two files for one name
    are an error.

    Returns:
        ``(found, missing, unused)``: name -> file for the names with a
        prediction, the names without one, and files matching no name.
    """
    folder = Path(pred_dir)
    if not folder.is_dir():
        raise InputError(f"{folder}: prediction folder not found")
    wanted = set(names)
    found: dict[str, Path] = {}
    unused: list[str] = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or not is_image_file(path):
            continue
        stem = path.stem
        if stem in wanted:
            name = stem
        elif stem.endswith(_ALPHA_SUFFIX) and stem[: -len(_ALPHA_SUFFIX)] in wanted:
            name = stem[: -len(_ALPHA_SUFFIX)]
        else:
            unused.append(path.name)
            continue
        if name in found:
            raise InputError(
                f"{folder}: two predictions for {name!r} ({found[name].name}, {path.name}); keep one"
            )
        found[name] = path
    missing = [name for name in names if name not in found]
    return found, missing, unused


# --------------------------------------------------------------------------
# the runner
# --------------------------------------------------------------------------


@dataclass
class EvaluationResult:
    """What :func:`evaluate` computed and wrote.

    Attributes:
        means: mean of each metric over the evaluated images (metrics that
            are undefined for an image, e.g. MSE_TRAN without transition
            pixels, are averaged over the others).
        per_image: name -> metric -> value, every evaluated image.
        count: number of evaluated images.
        missing: sample names without a prediction (only with
            ``allow_missing``).
        undefined: metric -> number of images where it was ``nan``.
        seconds_per_image: mean wall-clock seconds of one ``predictor``
            call (prediction only: no file reading, no metrics) over the
            ``timed_count`` images that have a time; ``None`` for folders.
        csv_path, json_path, markdown_path: the files written.
    """

    means: dict[str, float]
    per_image: dict[str, dict[str, float]]
    count: int
    missing: list[str] = field(default_factory=list)
    undefined: dict[str, int] = field(default_factory=dict)
    seconds_per_image: float | None = None
    timed_count: int = 0
    csv_path: Path = Path()
    json_path: Path = Path()
    markdown_path: Path = Path()


def evaluate(
    dataset: MattingSplit,
    out_dir: str | os.PathLike[str],
    *,
    predictions: str | os.PathLike[str] | None = None,
    predictor: PredictFn | None = None,
    method: str | None = None,
    resume: bool = False,
    snap_trimaps: bool = False,
    allow_missing: bool = False,
    save_predictions: str | os.PathLike[str] | None = None,
    source: str | None = None,
    warmup: bool = False,
    environment: Mapping[str, Any] | None = None,
    progress: bool = True,
    shard: Shard | None = None,
    metric_threads: int = 1,
) -> EvaluationResult:
    """Score predictions of every sample of ``dataset`` and write the reports.

    Args:
        dataset: from :func:`~gfm.evaluation.datasets.discover_dataset` or
            :func:`~gfm.evaluation.datasets.folder_dataset`.
        out_dir: folder for ``per_image.csv``, ``summary.json``, ``table.md``.
        predictions: folder of predicted alphas (``NAME.png`` or
            ``NAME_alpha.png``; 8/16-bit like the ground truth). Exactly one
            of ``predictions`` and ``predictor``.
        predictor: ``predictor(image)`` with ``image`` ``uint8`` RGB
            ``(H, W, 3)`` (EXIF orientation applied) returning a float alpha
            ``(H, W)`` in [0, 1] at the image's size; metrics use its float
            values as returned.
        method: the method name of the table row (default: the prediction
            folder's name, or ``"predictor"``).
        resume: keep the rows already in ``out_dir/per_image.csv`` (same
            dataset and prediction source required) and score the rest.
            Without it an existing report in ``out_dir`` is replaced.
        snap_trimaps: map trimap values other than 0/128/255 to the nearest
            of them instead of raising.
        allow_missing: score the samples that have a prediction and list the
            others in the reports, instead of raising.
        save_predictions: with ``predictor``, also write each alpha as an
            8-bit PNG ``NAME.png`` into this folder.
        source: with ``predictor``, what it is (e.g. the model and the
            strategy), recorded in the summary; resume refuses a folder made
            by another source. Default: the callable's name.
        warmup: with ``predictor``, call it once on the first image to score
            before timing (first calls allocate memory and pick kernels).
        environment: facts recorded in the summary but not checked on
            resume (device, threads, versions: they change the times, not
            the alphas).
        progress: show a tqdm progress bar.
        shard: under torchrun, this process's place
            (:func:`gfm.sharding.shard_from_environment`): each rank scores
            every ``world_size``-th image still to do, keeping its rows in
            ``per_image.partRANK.csv``; rank 0 writes the merged reports, the same
            as one process would (the times aside). Every rank returns the result.
            An error of any rank is raised on every rank.
        metric_threads: compute the metrics of earlier images on this many
            threads while the next is predicted (:class:`~gfm.evaluation.scoring.Scorer`);
            1 (default): one image after another. Same rows either way.

    Raises:
        InputError: missing or mismatched files, bad values.
    """
    from tqdm import tqdm

    if (predictions is None) == (predictor is None):
        raise InputError("pass exactly one of predictions (a folder) and predictor (a callable)")
    if save_predictions is not None and predictor is None:
        raise InputError("save_predictions needs a predictor; the predictions are already files")
    if source is not None and predictor is None:
        raise InputError("source describes a predictor; a prediction folder is its own source")
    out = Path(out_dir)
    names = [sample.name for sample in dataset.samples]

    found: dict[str, Path] = {}
    missing: list[str] = []
    unused: list[str] = []
    if predictions is not None:
        found, missing, unused = find_predictions(predictions, names)
        if missing and not allow_missing:
            raise InputError(
                f"{predictions}: no prediction for {len(missing)} of {len(names)} images: "
                + ", ".join(missing[:10])
                + (", ..." if len(missing) > 10 else "")
                + " (expected NAME.png or NAME_alpha.png); add them, or allow missing predictions "
                "(--allow-missing) to score the rest"
            )
        if not found:
            raise InputError(f"{predictions}: no prediction matches any of the {len(names)} images")
        source = str(Path(predictions).resolve())
        method = method or Path(predictions).resolve().name
    else:
        source = source or f"callable:{getattr(predictor, '__qualname__', type(predictor).__name__)}"
        method = method or "predictor"

    trimap_note = (
        "provided by the dataset"
        if dataset.trimaps_provided
        else f"generated from the ground truth ({DEFAULT_TRIMAP_KERNEL}x{DEFAULT_TRIMAP_KERNEL} "
        "elliptical kernel: dilate alpha > 0, erode alpha == 1)"
    )
    settings: dict[str, Any] = {
        "dataset": {"name": dataset.name, **dataset_source(dataset)},
        "predictions": source,
        "trimaps": trimap_note,
        "snap_trimaps": snap_trimaps,
        "alpha_conversion": "8-bit / 255, 16-bit / 65535, float64",
        "conn_thresholds": [float(t) for t in CONN_THRESHOLDS],
        "grad_sigma": GRAD_SIGMA,
    }

    csv_path, json_path, md_path = out / CSV_NAME, out / JSON_NAME, out / MARKDOWN_NAME
    sharded = shard is not None and shard.world_size > 1

    def start() -> dict[str, dict[str, Any]]:
        """Rows kept from an earlier run (resume); the folder marked as this evaluation's."""
        rows: dict[str, dict[str, Any]] = {}
        parts = sorted(out.glob(PART_GLOB)) if out.is_dir() else []
        if resume and (csv_path.exists() or parts):
            check_resume(json_path, settings)
            if csv_path.exists():
                rows = read_csv(csv_path, set(names))
            for part in parts:  # rows of an interrupted torchrun run
                rows.update(read_csv(part, set(names)))
        summary["count"] = len(rows)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise OutputError(f"{out}: exists and is not a folder; --out needs a folder for the reports") from None
        except OSError as error:
            raise OutputError(f"{out}: cannot create the report folder ({error.strerror or error}); choose another --out") from None
        remove_stale_temporaries(out)  # what a killed run's report writes left
        # Mark the folder as this evaluation's before any row is written, so a
        # later resume never mixes in rows of an older, different run.
        write_report(json_path, json.dumps(summary, indent=1) + "\n")
        write_report(csv_path, format_csv(rows))
        for part in parts:
            part.unlink(missing_ok=True)
        md_path.unlink(missing_ok=True)
        return rows

    summary: dict[str, Any] = {
        "method": method,
        "complete": False,
        "count": 0,
        "dataset_size": len(names),
        "metrics": {},
        "missing_predictions": missing,
        "unused_prediction_files": unused,
        "undefined": {},
        "seconds_per_image": None,
        "timed_images": 0,
        "settings": settings,
        "environment": dict(environment or {}),
    }
    rows = shard.on_main(start) if sharded else start()  # type: ignore[union-attr]

    todo = [s for s in dataset.samples if s.name not in rows and (predictor is not None or s.name in found)]
    if sharded:
        todo = shard.take(todo)  # type: ignore[union-attr]
    # Under torchrun each rank writes only its own rows, to its own part file.
    own_rows: dict[str, dict[str, Any]] = {} if sharded else rows
    own_csv = out / f"per_image.part{shard.rank}.csv" if sharded else csv_path  # type: ignore[union-attr]
    # The table is rewritten at most every CSV_FLUSH_SECONDS (rewriting it per
    # image is quadratic on large sets) and whenever the loop stops, errors and
    # Ctrl-C included: rows already computed are valid and resume keeps them.
    last_flush = time.monotonic()
    failure: Exception | None = None
    scored = None
    try:
        if warmup and predictor is not None and todo:
            predictor(read_image(todo[0].image))
        scorer = Scorer(found, predictor, snap_trimaps, save_predictions, metric_threads)
        scored = scorer.scores(todo)
        for sample, (metrics, prediction_name, seconds) in tqdm(scored, total=len(todo), desc="evaluate", unit="img", disable=not progress):
            own_rows[sample.name] = {**metrics, "prediction": prediction_name, "seconds": seconds}
            if time.monotonic() - last_flush >= CSV_FLUSH_SECONDS:
                write_report(own_csv, format_csv(own_rows))
                last_flush = time.monotonic()
    except Exception as error:
        if not sharded:
            raise
        failure = error  # raised on every rank below, once the ranks have met
    finally:
        if scored is not None:
            scored.close()  # stop the metric threads' queue (an error, Ctrl-C)
        if own_rows or not sharded:
            write_report(own_csv, format_csv(own_rows))
    if sharded:
        shard.raise_first(failure)  # type: ignore[union-attr]
        for part in shard.all_gather(own_rows):  # type: ignore[union-attr]
            rows.update(part)

    if not rows:
        raise InputError("nothing was evaluated")
    rows = {name: rows[name] for name in names if name in rows}  # the dataset's order, however the rows came
    means, undefined = metric_means(rows)
    json_means = {key: None if math.isnan(value) else value for key, value in means.items()}  # strict JSON
    seconds_per_image, timed_count = mean_seconds(rows)
    summary.update(
        complete=True,
        count=len(rows),
        metrics=json_means,
        undefined=undefined,
        seconds_per_image=seconds_per_image,
        timed_images=timed_count,
    )

    def finish() -> None:
        if sharded:
            write_report(csv_path, format_csv(rows))  # every rank's rows, merged
        write_report(json_path, json.dumps(summary, indent=1) + "\n")
        write_report(md_path, format_table(dataset, method, means, summary))
        for part in out.glob(PART_GLOB):
            part.unlink(missing_ok=True)

    shard.on_main(finish) if sharded else finish()  # type: ignore[union-attr]
    return EvaluationResult(
        means=means,
        per_image={name: {k: rows[name][k] for k in METRIC_NAMES} for name in sorted(rows)},
        count=len(rows),
        missing=missing,
        undefined=undefined,
        seconds_per_image=seconds_per_image,
        timed_count=timed_count,
        csv_path=csv_path,
        json_path=json_path,
        markdown_path=md_path,
    )

