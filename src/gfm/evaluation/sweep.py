"""Test-resolution sweeps like the paper's Table 6.

The glance half of GFM runs on the image down-sampled by ``d1`` and the focus
half by ``d2`` (the paper's ratios ``1/d1``, ``1/d2``); when ``d1 == d2`` the
network runs once. :func:`run_sweep` evaluates a dataset at several settings
and tabulates SAD, MSE and the mean prediction time per image, so a user can
pick a speed / quality point. The paper's grid (:func:`default_settings`):

* hybrid: ``d1, d2`` in {2, 3, 4} with ``d1 >= d2``: (2,2), (3,2), (3,3),
  (4,2), (4,3), (4,4) -- the equal pairs are single passes;
* single ratio: ``d`` from 2 to 3 in steps of 0.2 (1/2 to 1/3 of the size).

Hybrid (2,2) and single 2.0, and hybrid (3,3) and single 3.0, are the same
computation: it runs once and both rows show its numbers (marked "same as").

Each distinct computation is an ordinary evaluation
(:func:`gfm.evaluation.runner.evaluate`) in its own sub-folder of
``out_dir`` (``glance3_focus2``, ``glance2.6_focus2.6``, ...), so an
interrupted sweep resumes image by image. ``out_dir`` also receives
``sweep.csv``, ``sweep.json`` and ``sweep.md`` (a Markdown table laid out like
Table 6, best SAD in bold).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gfm.data.layouts import MattingSplit
from gfm.errors import InputError
from gfm.evaluation.runner import EvaluationResult, PredictFn, evaluate
from gfm.io import atomic_write

__all__ = [
    "HYBRID_RATIOS",
    "SINGLE_RATIOS",
    "SweepResult",
    "SweepRow",
    "SweepSetting",
    "default_settings",
    "parse_settings",
    "run_sweep",
]

#: The paper's hybrid grid (d1, d2): d1, d2 in {2, 3, 4}, d1 >= d2.
HYBRID_RATIOS: tuple[tuple[float, float], ...] = ((2, 2), (3, 2), (3, 3), (4, 2), (4, 3), (4, 4))
#: The paper's single ratios d (d1 = d2 = d): 2 to 3 in steps of 0.2.
SINGLE_RATIOS: tuple[float, ...] = (2.0, 2.2, 2.4, 2.6, 2.8, 3.0)

SWEEP_CSV = "sweep.csv"
SWEEP_JSON = "sweep.json"
SWEEP_MARKDOWN = "sweep.md"

_CSV_FIELDS = (
    "label", "kind", "d_glance", "d_focus", "passes", "SAD", "MSE", "seconds_per_image", "images", "folder", "same_as",
)


@dataclass(frozen=True)
class SweepSetting:
    """One row of the sweep.

    Attributes:
        kind: ``"hybrid"`` (a row of the d1 x d2 grid) or ``"single"`` (a
            single ratio d, listed with d1 = d2 = d).
        d_glance: ``d1``: the glance pass sees the image scaled by ``1 / d1``.
        d_focus: ``d2``: the focus pass sees the image scaled by ``1 / d2``.
    """

    kind: str
    d_glance: float
    d_focus: float

    @property
    def single_pass(self) -> bool:
        return self.key[0] == self.key[1]

    @property
    def key(self) -> tuple[float, float]:
        """What is computed: settings with equal keys give identical alphas."""
        return (round(self.d_glance, 6), round(self.d_focus, 6))

    @property
    def label(self) -> str:
        if self.kind == "single":
            return f"single 1/{self.d_glance:g}"
        return f"hybrid 1/{self.d_glance:g}, 1/{self.d_focus:g}"

    @property
    def folder(self) -> str:
        """Sub-folder of the sweep's output holding this computation's evaluation."""
        return f"glance{self.key[0]:g}_focus{self.key[1]:g}"


def default_settings() -> list[SweepSetting]:
    """The paper's Table 6 grid: six hybrid pairs, then six single ratios."""
    return [SweepSetting("hybrid", float(a), float(b)) for a, b in HYBRID_RATIOS] + [
        SweepSetting("single", d, d) for d in SINGLE_RATIOS
    ]


def _ratio(text: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 1.0:
        raise InputError(
            f"sweep setting {spec!r}: {text!r} is not a down-sampling ratio d >= 1 (the image is scaled by 1/d)"
        )
    return value


def parse_settings(text: str) -> list[SweepSetting]:
    """Parse a list of settings such as ``"3,2 4,4 2.6"``.

    Items are separated by spaces or semicolons: ``D1,D2`` is a hybrid setting
    (glance at 1/D1, focus at 1/D2) and ``D`` a single ratio. Repeated items
    are dropped.

    Raises:
        InputError: an empty list or an item that is not one or two ratios >= 1.
    """
    settings: list[SweepSetting] = []
    for item in re.split(r"[\s;]+", text.strip()):
        if not item:
            continue
        parts = item.split(",")
        if len(parts) == 1:
            d = _ratio(parts[0], item)
            setting = SweepSetting("single", d, d)
        elif len(parts) == 2:
            setting = SweepSetting("hybrid", _ratio(parts[0], item), _ratio(parts[1], item))
        else:
            raise InputError(f"sweep setting {item!r}: write D1,D2 (hybrid) or D (single ratio), e.g. '3,2 2.6'")
        if setting not in settings:
            settings.append(setting)
    if not settings:
        raise InputError("no sweep settings given; write e.g. '3,2 4,4 2.6' (D1,D2 hybrid, D single ratio)")
    return settings


@dataclass
class SweepRow:
    """A setting and what its evaluation gave.

    Attributes:
        sad, mse: mean SAD (thousands) and MSE over the dataset, as in Table 1.
        seconds_per_image: mean prediction time (``None`` if not timed).
        same_as: label of the earlier row that computed the same thing, or ``None``.
    """

    setting: SweepSetting
    sad: float
    mse: float
    seconds_per_image: float | None
    count: int
    same_as: str | None
    result: EvaluationResult


@dataclass
class SweepResult:
    """What :func:`run_sweep` computed: a row a setting, the best labels, and the tables written."""

    rows: list[SweepRow]
    best: list[str]
    csv_path: Path
    json_path: Path
    markdown_path: Path


class _LazyPredictor:
    """Builds the predictor on its first call, so a finished setting (resume)
    costs no model preparation."""

    def __init__(self, factory: Callable[[], PredictFn]) -> None:
        self._factory = factory
        self._predict: PredictFn | None = None

    def __call__(self, image: Any) -> Any:
        if self._predict is None:
            self._predict = self._factory()
        return self._predict(image)


def _write_text(path: Path, text: str) -> None:
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _fmt(value: float | None, decimals: int) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{decimals}f}"


def _markdown(dataset: MattingSplit, method: str, rows: list[SweepRow], best: list[str], notes: Sequence[str]) -> str:
    lines = [
        f"Test-resolution sweep of {method} on {dataset.name} ({rows[0].count} images)",
        "",
        "| Strategy | Glance 1/d1 | Focus 1/d2 | Passes | SAD | MSE | Time (s) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        s = row.setting
        sad = _fmt(row.sad, 2)
        if s.label in best:
            sad = f"**{sad}**"
        kind = s.kind + (f" (same as {row.same_as})" if row.same_as else "")
        lines.append(
            f"| {kind} | 1/{s.d_glance:g} | 1/{s.d_focus:g} | {1 if s.single_pass else 2} | {sad} | "
            f"{_fmt(row.mse, 4)} | {_fmt(row.seconds_per_image, 3)} |"
        )
    lines += [
        "",
        "Best SAD in bold. SAD in thousands (sum / 1000), MSE per pixel, means over the images "
        "(Table 1 conventions). Time: mean seconds per image of the prediction alone (resizing, "
        "network, fusion at full resolution; file reading and metrics excluded; one warm-up call "
        "first).",
        "Settings with d1 = d2 run the network once; rows marked 'same as' are the same "
        "computation as the named row and repeat its numbers.",
        *notes,
    ]
    return "\n".join(lines) + "\n"


def _csv(rows: list[SweepRow]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        s = row.setting
        writer.writerow(
            {
                "label": s.label,
                "kind": s.kind,
                "d_glance": f"{s.d_glance:g}",
                "d_focus": f"{s.d_focus:g}",
                "passes": 1 if s.single_pass else 2,
                "SAD": repr(row.sad),
                "MSE": repr(row.mse),
                "seconds_per_image": "" if row.seconds_per_image is None else repr(row.seconds_per_image),
                "images": row.count,
                "folder": s.folder,
                "same_as": row.same_as or "",
            }
        )
    return buffer.getvalue()


def run_sweep(
    dataset: MattingSplit,
    out_dir: str | os.PathLike[str],
    make_predictor: Callable[[SweepSetting], PredictFn],
    settings: Sequence[SweepSetting] | None = None,
    *,
    source: str,
    method: str = "GFM",
    resume: bool = False,
    snap_trimaps: bool = False,
    save_predictions: str | os.PathLike[str] | None = None,
    notes: Sequence[str] = (),
    on_setting: Callable[[SweepSetting, Path], None] | None = None,
    progress: bool = True,
) -> SweepResult:
    """Evaluate ``dataset`` at each setting and write the sweep tables.

    Args:
        dataset: the ground truth (every image is predicted at every setting).
        out_dir: receives ``sweep.{csv,json,md}`` and one evaluation
            sub-folder per distinct computation (see :attr:`SweepSetting.folder`).
        make_predictor: ``make_predictor(setting)`` returns
            ``predict(image_uint8_rgb) -> float alpha`` running the model with
            glance at ``1 / setting.d_glance`` and focus at ``1 / setting.d_focus``;
            called only for settings that still have images to predict.
        settings: default :func:`default_settings` (the paper's Table 6).
        source: the model (and options) behind ``make_predictor``; recorded,
            and a resumed sub-folder must have been made by the same source.
        method: name in the table titles.
        resume: keep the images already evaluated in each sub-folder.
        save_predictions: also write the alphas to ``save_predictions/FOLDER/NAME.png``.
        notes: extra lines for ``sweep.md`` and ``sweep.json`` (device, threads ...).
        on_setting: called with each distinct computation and its folder
            before it is evaluated (e.g. to print progress).
        progress: tqdm progress bar of each evaluation.

    Returns:
        A :class:`SweepResult`; ``best`` lists the labels with the lowest SAD.
    """
    settings = list(settings) if settings is not None else default_settings()
    if not settings:
        raise InputError("the sweep has no settings")
    out = Path(out_dir)
    computed: dict[tuple[float, float], tuple[SweepSetting, EvaluationResult]] = {}
    rows: list[SweepRow] = []
    for setting in settings:
        same_as = None
        if setting.key in computed:
            first, result = computed[setting.key]
            same_as = first.label
        else:
            if on_setting is not None:
                on_setting(setting, out / setting.folder)
            result = evaluate(
                dataset,
                out / setting.folder,
                predictor=_LazyPredictor(lambda s=setting: make_predictor(s)),
                source=f"{source}; glance 1/{setting.key[0]:g}, focus 1/{setting.key[1]:g}",
                method=f"{method} {setting.label}",
                resume=resume,
                snap_trimaps=snap_trimaps,
                save_predictions=None if save_predictions is None else Path(save_predictions) / setting.folder,
                warmup=True,
                progress=progress,
            )
            computed[setting.key] = (setting, result)
        rows.append(
            SweepRow(setting, result.means["SAD"], result.means["MSE"], result.seconds_per_image, result.count, same_as, result)
        )

    lowest = min(row.sad for row in rows)
    best = [row.setting.label for row in rows if row.sad == lowest]
    summary: dict[str, Any] = {
        "dataset": dataset.name,
        "images": rows[0].count,
        "method": method,
        "source": source,
        "best_sad": best,
        "notes": list(notes),
        "rows": [
            {
                "label": row.setting.label,
                "kind": row.setting.kind,
                "d_glance": row.setting.d_glance,
                "d_focus": row.setting.d_focus,
                "passes": 1 if row.setting.single_pass else 2,
                "SAD": row.sad,
                "MSE": row.mse,
                "seconds_per_image": row.seconds_per_image,
                "images": row.count,
                "folder": row.setting.folder,
                "same_as": row.same_as,
                "metrics": {k: (None if math.isnan(v) else v) for k, v in row.result.means.items()},
            }
            for row in rows
        ],
    }
    csv_path, json_path, md_path = out / SWEEP_CSV, out / SWEEP_JSON, out / SWEEP_MARKDOWN
    _write_text(csv_path, _csv(rows))
    _write_text(json_path, json.dumps(summary, indent=1) + "\n")
    _write_text(md_path, _markdown(dataset, method, rows, best, notes))
    return SweepResult(rows, best, csv_path, json_path, md_path)
