"""``gfm evaluate --model`` and ``--sweep`` end to end with a tiny checkpoint on the small AM-2k copy."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gfm
from gfm.cli.main import main
from gfm.inference import Predictor
from gfm.metrics import METRIC_NAMES, evaluate_alpha, trimap_from_alpha

AM2K = Path(__file__).parents[1] / "data" / "am2k"
NAMES = ["sample1", "sample2", "sample3"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny TT model whose glance head always says "transition", so the alpha
    is the focus output: it changes with the test resolution."""
    torch.manual_seed(0)
    model = gfm.create_model("tiny", "TT")
    with torch.no_grad():
        model.glance.heads.TT[6].bias.copy_(torch.tensor([0.0, 50.0, 0.0]))
    return gfm.save_checkpoint(model, tmp_path_factory.mktemp("weights") / "tiny_tt.pth")


@pytest.fixture()
def am2k(tmp_path: Path) -> Path:
    root = tmp_path / "AM-2k"
    for folder in ("original", "mask"):
        shutil.copytree(AM2K / folder, root / "validation" / folder)
    return root


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as handle:
        return {row["name"]: row for row in csv.DictReader(handle)}


def _evaluate(am2k: Path, out: Path, checkpoint: Path, *extra: str) -> int:
    return main(["evaluate", "--model", str(checkpoint), "--data", str(am2k), "--out", str(out), "--no-progress",
                 "--device", "cpu", *extra])


def test_model_writes_the_three_reports(
    am2k: Path, tmp_path: Path, checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, saved = tmp_path / "out", tmp_path / "alphas"
    assert _evaluate(am2k, out, checkpoint, "--strategy", "single", "--save-predictions", str(saved)) == 0
    rows = _rows(out / "per_image.csv")
    assert sorted(rows) == NAMES
    assert sorted(p.name for p in saved.iterdir()) == [f"{n}.png" for n in NAMES]
    # the numbers are the model's: recompute sample2 with the library
    predictor = Predictor(gfm.load_model(checkpoint), strategy="single", device="cpu")
    image = np.asarray(Image.open(am2k / "validation" / "original" / "sample2.jpg").convert("RGB"))
    gt = np.asarray(Image.open(am2k / "validation" / "mask" / "sample2.png")) / 255.0
    alpha = predictor.predict(image).alpha
    expected = evaluate_alpha(alpha.astype(np.float64), gt, trimap_from_alpha(gt))
    for key in METRIC_NAMES:
        assert float(rows["sample2"][key]) == pytest.approx(expected[key], rel=1e-9, abs=1e-12)
    assert 0 < float(rows["sample2"]["SAD"]) < np.prod(gt.shape) / 1000
    assert all(float(rows[n]["seconds"]) > 0 and rows[n]["prediction"] == "<predictor>" for n in NAMES)
    np.testing.assert_array_equal(np.asarray(Image.open(saved / "sample2.png")), np.rint(alpha * 255).astype(np.uint8))

    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] and summary["count"] == 3 and summary["timed_images"] == 3
    assert summary["method"] == "tiny_tt (single)"
    source = summary["settings"]["predictions"]
    assert str(checkpoint) in source and "strategy single (glance 1/2.6, focus 1/2.6)" in source
    assert summary["environment"]["threads"] >= 1
    table = (out / "table.md").read_text()
    assert table.splitlines()[2].startswith(f"| AM-2k validation | tiny_tt (single) | {summary['metrics']['SAD']:.2f} |")
    assert "Prediction time:" in table
    printed = capsys.readouterr().out
    assert "strategy single" in printed and table.splitlines()[2] in printed


def test_model_resume_skips_done_images_and_refuses_another_strategy(
    am2k: Path, tmp_path: Path, checkpoint: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert _evaluate(am2k, out, checkpoint) == 0
    first = _rows(out / "per_image.csv")
    with (out / "per_image.csv").open("w", newline="") as handle:  # "interrupted" after sample1
        writer = csv.DictWriter(handle, fieldnames=list(first["sample1"]))
        writer.writeheader()
        writer.writerow({**first["sample1"], "CONN": "999.0"})
    calls: list[tuple[int, ...]] = []
    original = Predictor.predict

    def counting(self: Predictor, image: np.ndarray, **kwargs: bool):
        calls.append(image.shape)
        return original(self, image, **kwargs)

    monkeypatch.setattr(Predictor, "predict", counting)
    assert _evaluate(am2k, out, checkpoint, "--resume") == 0
    assert len(calls) == 1 + 2  # warm-up, then sample2 and sample3 only
    resumed = _rows(out / "per_image.csv")
    assert resumed["sample1"]["CONN"] == "999.0"
    assert {k: resumed["sample3"][k] for k in METRIC_NAMES} == {k: first["sample3"][k] for k in METRIC_NAMES}
    capsys.readouterr()
    assert _evaluate(am2k, out, checkpoint, "--resume", "--strategy", "resize") == 2
    assert "computed with predictions" in capsys.readouterr().err


def test_sweep_tabulates_settings_and_resumes(
    am2k: Path, tmp_path: Path, checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in NAMES[1:]:  # one image keeps it fast
        for folder, suffix in (("original", "jpg"), ("mask", "png")):
            (am2k / "validation" / folder / f"{name}.{suffix}").unlink()
    out = tmp_path / "sweep"
    assert _evaluate(am2k, out, checkpoint, "--sweep-settings", "3,2 2 2,2 3") == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "glance2_focus2", "glance3_focus2", "glance3_focus3", "sweep.csv", "sweep.json", "sweep.md"
    ]
    summary = json.loads((out / "sweep.json").read_text())
    rows = {row["label"]: row for row in summary["rows"]}
    assert list(rows) == ["hybrid 1/3, 1/2", "single 1/2", "hybrid 1/2, 1/2", "single 1/3"]
    assert rows["single 1/3"]["SAD"] != rows["single 1/2"]["SAD"]  # the resolution matters to this model
    assert rows["hybrid 1/2, 1/2"]["same_as"] == "single 1/2" and rows["hybrid 1/2, 1/2"]["SAD"] == rows["single 1/2"]["SAD"]
    assert rows["hybrid 1/3, 1/2"]["passes"] == 2 and rows["single 1/2"]["passes"] == 1
    assert all(row["images"] == 1 and row["seconds_per_image"] > 0 for row in rows.values())
    best = min(row["SAD"] for row in rows.values())
    assert summary["best_sad"] == [label for label, row in rows.items() if row["SAD"] == best]
    # each setting is a full evaluation of its own
    per_setting = json.loads((out / "glance3_focus2" / "summary.json").read_text())
    assert per_setting["metrics"]["SAD"] == rows["hybrid 1/3, 1/2"]["SAD"]
    assert "glance 1/3, focus 1/2" in per_setting["settings"]["predictions"]
    table = (out / "sweep.md").read_text()
    assert "| Strategy | Glance 1/d1 | Focus 1/d2 | Passes | SAD | MSE | Time (s) |" in table
    assert "**" in table and "threads" in table
    assert table in capsys.readouterr().out

    before = (out / "glance3_focus2" / "per_image.csv").read_text()
    assert _evaluate(am2k, out, checkpoint, "--sweep-settings", "3,2 2 2,2 3", "--resume") == 0
    assert (out / "glance3_focus2" / "per_image.csv").read_text() == before  # times kept: nothing re-predicted


def test_option_errors(am2k: Path, tmp_path: Path, checkpoint: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["evaluate", "--data", str(am2k), "--out", str(tmp_path / "o")]
    assert main([*base, "--pred", str(tmp_path), "--strategy", "single", "--sweep"]) == 2
    assert "--strategy, --sweep: only with --model" in capsys.readouterr().err
    assert _evaluate(am2k, tmp_path / "o", checkpoint, "--sweep", "--strategy", "single") == 2
    assert "does not go with --sweep" in capsys.readouterr().err
    assert _evaluate(am2k, tmp_path / "o", checkpoint, "--sweep-settings", "3;x") == 2
    assert "'x' is not a down-sampling ratio" in capsys.readouterr().err
    assert _evaluate(am2k, tmp_path / "o", checkpoint, "--strategy", "ensemble") == 2
    assert "needs two or more --model" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*base, "--pred", str(tmp_path), "--model", str(checkpoint)])
    assert "not allowed with argument" in capsys.readouterr().err
