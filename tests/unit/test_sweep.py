"""Sweep settings, the sweep runner and the evaluation runner's timing, with test-double predictors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gfm.errors import InputError
from gfm.evaluation.datasets import discover_dataset
from gfm.evaluation.runner import evaluate
from gfm.evaluation.sweep import SweepSetting, default_settings, parse_settings, run_sweep

H, W = 24, 32


def _dataset(root: Path, names: list[str]) -> Path:
    yy, xx = np.mgrid[0:H, 0:W]
    for i, name in enumerate(names):
        gt = np.clip((10 - np.hypot(yy - 12, xx - 10 - 4 * i)) * 60, 0, 255).astype(np.uint8)
        for folder, array in (("original", np.dstack([gt, gt, gt])), ("mask", gt)):
            (root / folder).mkdir(parents=True, exist_ok=True)
            Image.fromarray(array).save(root / folder / f"{name}.{'jpg' if folder == 'original' else 'png'}")
    return root


def test_default_settings_are_the_papers_grid() -> None:
    settings = default_settings()
    assert [(s.kind, s.d_glance, s.d_focus) for s in settings[:6]] == [
        ("hybrid", 2, 2), ("hybrid", 3, 2), ("hybrid", 3, 3), ("hybrid", 4, 2), ("hybrid", 4, 3), ("hybrid", 4, 4)
    ]
    assert [s.d_glance for s in settings[6:]] == [2.0, 2.2, 2.4, 2.6, 2.8, 3.0]
    assert all(s.kind == "single" and s.single_pass for s in settings[6:])
    # two computations are listed twice: 2,2 = single 2.0 and 3,3 = single 3.0
    assert len({s.key for s in settings}) == 10
    assert settings[1].label == "hybrid 1/3, 1/2" and settings[1].folder == "glance3_focus2"
    assert settings[9].label == "single 1/2.6" and settings[9].folder == "glance2.6_focus2.6"


def test_parse_settings() -> None:
    settings = parse_settings(" 3,2 ;2.6  4,4 3,2")
    assert settings == [SweepSetting("hybrid", 3, 2), SweepSetting("single", 2.6, 2.6), SweepSetting("hybrid", 4, 4)]
    assert settings[2].single_pass and not settings[0].single_pass
    for bad, message in (("", "no sweep settings"), ("3,2,1", "write D1,D2"), ("x", "not a down-sampling"),
                         ("0.5", "not a down-sampling"), ("3,nan", "not a down-sampling")):
        with pytest.raises(InputError, match=message):
            parse_settings(bad)


def test_run_sweep_computes_each_setting_once_marks_best_and_resumes(tmp_path: Path) -> None:
    dataset = discover_dataset(_dataset(tmp_path / "data", ["a", "b"]))
    calls: list[tuple[float, float]] = []
    built: list[tuple[float, float]] = []

    def make_predictor(setting: SweepSetting):  # the alpha gets worse as d2 grows: best is d2 = 2
        built.append(setting.key)

        def predict(image: np.ndarray) -> np.ndarray:
            calls.append(setting.key)
            return np.clip(image[..., 0] / 255.0 + 0.05 * (setting.d_focus - 2), 0, 1)

        return predict

    settings = parse_settings("2,2 3,2 3,3 2 3 2.6")
    out = tmp_path / "sweep"
    result = run_sweep(dataset, out, make_predictor, settings, source="double", method="M", progress=False)
    # 2,2 = single 2 and 3,3 = single 3: 4 distinct computations, each image once (+1 warm-up)
    assert built == [(2, 2), (3, 2), (3, 3), (2.6, 2.6)]
    assert len(calls) == 4 * (2 + 1)
    assert sorted(p.name for p in out.iterdir()) == [
        "glance2.6_focus2.6", "glance2_focus2", "glance3_focus2", "glance3_focus3", "sweep.csv", "sweep.json", "sweep.md"
    ]
    by_label = {row.setting.label: row for row in result.rows}
    assert by_label["single 1/2"].same_as == "hybrid 1/2, 1/2"
    assert by_label["single 1/2"].sad == by_label["hybrid 1/2, 1/2"].sad
    assert by_label["single 1/3"].same_as == "hybrid 1/3, 1/3"
    assert result.best == ["hybrid 1/2, 1/2", "hybrid 1/3, 1/2", "single 1/2"]
    assert by_label["hybrid 1/3, 1/3"].sad > by_label["single 1/2.6"].sad > by_label["hybrid 1/3, 1/2"].sad
    assert all(row.seconds_per_image is not None and row.seconds_per_image >= 0 and row.count == 2 for row in result.rows)

    with result.csv_path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["label"] for r in rows] == [s.label for s in settings]
    assert rows[3]["same_as"] == "hybrid 1/2, 1/2" and rows[3]["passes"] == "1" and rows[1]["passes"] == "2"
    summary = json.loads(result.json_path.read_text())
    assert summary["best_sad"] == result.best and summary["rows"][1]["folder"] == "glance3_focus2"
    table = result.markdown_path.read_text()
    assert "| Strategy | Glance 1/d1 | Focus 1/d2 | Passes | SAD | MSE | Time (s) |" in table
    assert f"| hybrid | 1/3 | 1/2 | 2 | **{by_label['hybrid 1/3, 1/2'].sad:.2f}** |" in table
    assert "| single (same as hybrid 1/3, 1/3) | 1/3 | 1/3 | 1 |" in table

    # resume: finished settings build no predictor and predict nothing
    built.clear()
    calls.clear()
    again = run_sweep(dataset, out, make_predictor, settings, source="double", method="M", resume=True, progress=False)
    assert built == [] and calls == []
    assert [row.sad for row in again.rows] == [row.sad for row in result.rows]
    assert [row.seconds_per_image for row in again.rows] == [row.seconds_per_image for row in result.rows]
    with pytest.raises(InputError, match="computed with predictions"):
        run_sweep(dataset, out, make_predictor, settings, source="another model", resume=True, progress=False)


def test_evaluate_records_prediction_time_source_and_environment(tmp_path: Path) -> None:
    dataset = discover_dataset(_dataset(tmp_path / "data", ["a", "b", "c"]))
    seen: list[str] = []

    def predict(image: np.ndarray) -> np.ndarray:
        seen.append("call")
        return image[..., 0] / 255.0

    out = tmp_path / "out"
    result = evaluate(dataset, out, predictor=predict, source="model X; strategy Y", warmup=True,
                      environment={"device": "cpu"}, progress=False)
    assert len(seen) == 4  # one warm-up call, then one an image
    assert result.timed_count == 3 and result.seconds_per_image is not None
    with result.csv_path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert np.mean([float(r["seconds"]) for r in rows]) == pytest.approx(result.seconds_per_image)
    summary = json.loads(result.json_path.read_text())
    assert summary["settings"]["predictions"] == "model X; strategy Y"
    assert summary["environment"] == {"device": "cpu"}
    assert summary["seconds_per_image"] == result.seconds_per_image and summary["timed_images"] == 3
    assert "Prediction time:" in result.markdown_path.read_text()

    # a table without the seconds column (written before times were recorded) still resumes
    with result.csv_path.open() as handle:
        old = [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(handle)][:2]
    with result.csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(old[0]))
        writer.writeheader()
        writer.writerows(old)
    seen.clear()
    resumed = evaluate(dataset, out, predictor=predict, source="model X; strategy Y", resume=True, progress=False)
    assert len(seen) == 1 and resumed.count == 3 and resumed.timed_count == 1
    with pytest.raises(InputError, match="computed with predictions = 'model X; strategy Y'"):
        evaluate(dataset, out, predictor=predict, source="model X; strategy Z", resume=True, progress=False)
    with pytest.raises(InputError, match="source describes a predictor"):
        evaluate(dataset, out, predictions=tmp_path, source="x", progress=False)
