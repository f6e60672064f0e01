"""The reports of an evaluation: ``per_image.csv``, ``summary.json`` and ``table.md``.

Formats only: what :func:`gfm.evaluation.runner.evaluate` writes, how a resumed
run reads ``per_image.csv`` back and checks that ``summary.json`` describes the
same evaluation, and the Markdown row laid out like the paper's Table 1.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from gfm.data.layouts import MattingSplit
from gfm.errors import InputError, OutputError
from gfm.io import atomic_write
from gfm.metrics.matting import METRIC_NAMES

__all__ = [
    "CSV_NAME",
    "JSON_NAME",
    "MARKDOWN_NAME",
    "TABLE_COLUMNS",
    "check_resume",
    "format_csv",
    "format_table",
    "mean_seconds",
    "metric_means",
    "read_csv",
    "write_report",
]

CSV_NAME = "per_image.csv"
JSON_NAME = "summary.json"
MARKDOWN_NAME = "table.md"

#: Columns of the paper's Table 1: (heading, metric key, decimals).
TABLE_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("SAD", "SAD", 2),
    ("MSE", "MSE", 4),
    ("MAD", "MAD", 4),
    ("Grad", "GRAD", 2),
    ("Conn", "CONN", 2),
    ("SAD-TRAN", "SAD_TRAN", 2),
    ("SAD-FG", "SAD_FG", 2),
    ("SAD-BG", "SAD_BG", 2),
)

_CSV_FIELDS = ("name", *METRIC_NAMES, "prediction", "seconds")
# Written before prediction times were recorded; still read by resume.
_CSV_FIELDS_UNTIMED = ("name", *METRIC_NAMES, "prediction")


def format_csv(rows: Mapping[str, dict[str, Any]]) -> str:
    """``per_image.csv``: one row an image (sorted by name), metrics at full precision."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for name in sorted(rows):
        row = rows[name]
        values = {key: repr(float(row[key])) for key in METRIC_NAMES}  # repr: exact round trip
        seconds = "" if row.get("seconds") is None else repr(float(row["seconds"]))
        writer.writerow({"name": name, **values, "prediction": row["prediction"], "seconds": seconds})
    return buffer.getvalue()


def write_report(path: Path, text: str) -> None:
    """Write one report file atomically; a failure is an :class:`OutputError` naming the file."""
    try:
        with atomic_write(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except OSError as error:
        raise OutputError(
            f"{path}: cannot write the report ({error.strerror or error}); check that the --out folder is writable "
            "and the disk has space, or choose another --out"
        ) from None


def read_csv(path: Path, names: set[str]) -> dict[str, dict[str, Any]]:
    """The complete rows of an earlier ``per_image.csv`` (resume); every name must be in ``names``."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if tuple(reader.fieldnames or ()) not in (_CSV_FIELDS, _CSV_FIELDS_UNTIMED):
                raise InputError(
                    f"{path}: not a per-image table of gfm evaluate (columns {reader.fieldnames}); "
                    "use another output folder or drop resume"
                )
            rows: dict[str, dict[str, Any]] = {}
            for record in reader:
                if any(record.get(k) in (None, "") for k in (*METRIC_NAMES, "prediction")):
                    continue  # an incomplete row (the file was cut short): that image is scored again
                name = record["name"]
                if name not in names:
                    raise InputError(
                        f"{path}: lists {name!r}, which is not in this dataset; it holds another "
                        "evaluation: use another output folder or drop resume"
                    )
                rows[name] = {k: float(record[k]) for k in METRIC_NAMES}
                rows[name]["prediction"] = record["prediction"]
                rows[name]["seconds"] = float(record["seconds"]) if record.get("seconds") else None
    except (ValueError, KeyError, csv.Error) as error:
        raise InputError(f"{path}: unreadable per-image table ({error}); delete it or drop resume") from None
    return rows


def check_resume(json_path: Path, settings: dict[str, Any]) -> None:
    """Refuse to resume into a folder whose ``summary.json`` was made with other settings."""
    if not json_path.exists():
        return
    try:
        previous = json.loads(json_path.read_text(encoding="utf-8"))["settings"]
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(f"{json_path}: unreadable summary; delete the output folder or drop resume") from None
    for key in ("dataset", "predictions", "trimaps", "snap_trimaps"):
        if previous.get(key) != settings[key]:
            raise InputError(
                f"{json_path}: the results there were computed with {key} = {previous.get(key)!r}, "
                f"not {settings[key]!r}; use another output folder or drop resume"
            )


def metric_means(rows: Mapping[str, dict[str, Any]]) -> tuple[dict[str, float], dict[str, int]]:
    """Mean of each metric over the rows, ``nan`` skipped; and how many rows each skipped."""
    means: dict[str, float] = {}
    undefined: dict[str, int] = {}
    for key in METRIC_NAMES:
        values = np.array([rows[name][key] for name in rows], dtype=np.float64)
        defined = values[~np.isnan(values)]
        if defined.size < values.size:
            undefined[key] = int(values.size - defined.size)
        means[key] = float(np.mean(defined)) if defined.size else float("nan")
    return means, undefined


def mean_seconds(rows: Mapping[str, dict[str, Any]]) -> tuple[float | None, int]:
    """Mean prediction seconds over the rows that have a time, and their count."""
    times = [rows[name]["seconds"] for name in rows if rows[name].get("seconds") is not None]
    return (float(np.mean(times)) if times else None), len(times)


def format_table(dataset: MattingSplit, method: str, means: dict[str, float], summary: dict[str, Any]) -> str:
    """``table.md``: the Table 1 row of ``method`` on ``dataset``, then notes."""
    def cell(key: str, decimals: int) -> str:
        value = means[key]
        return "n/a" if math.isnan(value) else f"{value:.{decimals}f}"

    head = "| Dataset | Method | " + " | ".join(h for h, _, _ in TABLE_COLUMNS) + " |"
    rule = "|---|---|" + "---:|" * len(TABLE_COLUMNS)
    row = f"| {dataset.name} | {method} | " + " | ".join(cell(k, d) for _, k, d in TABLE_COLUMNS) + " |"
    notes = [
        f"Mean over {summary['count']} images of {dataset.name}; trimaps {summary['settings']['trimaps']}.",
        "Metrics as in the released GFM evaluation (the paper's tables): SAD, SAD-TRAN, SAD-FG, "
        "SAD-BG, Conn in thousands (sum / 1000); Grad = sum of squared gradient-magnitude "
        "differences / 10; MSE, MAD per pixel.",
    ]
    if summary["missing_predictions"]:
        notes.append(
            f"{len(summary['missing_predictions'])} images had no prediction and are not included "
            "(see summary.json)."
        )
    for key, count in summary["undefined"].items():
        notes.append(f"{key} is undefined (no transition pixel) for {count} images, averaged over the rest.")
    if summary["seconds_per_image"] is not None:
        notes.append(
            f"Prediction time: {summary['seconds_per_image']:.3f} s per image (mean over "
            f"{summary['timed_images']} images; file reading and metrics excluded)."
        )
    return "\n".join([head, rule, row, "", *notes]) + "\n"
