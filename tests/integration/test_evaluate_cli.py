"""``gfm evaluate`` end to end on a small AM-2k-style dataset."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from gfm.cli.main import main
from gfm.metrics import METRIC_NAMES, evaluate_alpha, trimap_from_alpha

AM2K = Path(__file__).parents[1] / "data" / "am2k"
NAMES = ["sample1", "sample2", "sample3"]


def _read8(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def _perturbed(gt8: np.ndarray, seed: int) -> np.ndarray:
    # what a decent model gets wrong: soft edges, noise, a false-positive blob
    rng = np.random.default_rng(seed)
    pred = cv2.GaussianBlur(gt8.astype(np.float64), (0, 0), 1.5)
    pred += rng.normal(0, 6, pred.shape)
    cv2.circle(pred, (20 + 10 * seed, 20), 8, 180.0, -1)
    return np.clip(np.rint(pred), 0, 255).astype(np.uint8)


@pytest.fixture()
def am2k(tmp_path: Path) -> dict[str, Path]:
    """ROOT/validation/{original,mask,trimap} and a prediction folder."""
    validation = tmp_path / "AM-2k" / "validation"
    shutil.copytree(AM2K / "original", validation / "original")
    shutil.copytree(AM2K / "mask", validation / "mask")
    (validation / "trimap").mkdir()
    preds = tmp_path / "preds"
    preds.mkdir()
    for i, name in enumerate(NAMES):
        gt8 = _read8(validation / "mask" / f"{name}.png")
        Image.fromarray(trimap_from_alpha(gt8 / 255.0)).save(validation / "trimap" / f"{name}.png")
        suffix = "_alpha" if i == 1 else ""  # both naming styles
        Image.fromarray(_perturbed(gt8, i)).save(preds / f"{name}{suffix}.png")
    return {"root": tmp_path / "AM-2k", "validation": validation, "preds": preds, "out": tmp_path / "out"}


def _expected(am2k: dict[str, Path]) -> dict[str, dict[str, float]]:
    expected = {}
    for i, name in enumerate(NAMES):
        gt8 = _read8(am2k["validation"] / "mask" / f"{name}.png")
        trimap = _read8(am2k["validation"] / "trimap" / f"{name}.png")
        expected[name] = evaluate_alpha(_perturbed(gt8, i) / 255.0, gt8 / 255.0, trimap)
    return expected


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as handle:
        return {row["name"]: row for row in csv.DictReader(handle)}


def _run(am2k: dict[str, Path], *extra: str) -> int:
    return main(
        ["evaluate", "--pred", str(am2k["preds"]), "--data", str(am2k["root"]), "--out", str(am2k["out"]),
         "--no-progress", *extra]
    )


def test_evaluate_writes_csv_json_and_table(am2k: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(am2k, "--name", "GFM-TT(r)") == 0
    expected = _expected(am2k)

    rows = _rows(am2k["out"] / "per_image.csv")
    assert sorted(rows) == NAMES
    assert rows["sample2"]["prediction"] == "sample2_alpha.png"
    for name in NAMES:
        assert {k: float(rows[name][k]) for k in METRIC_NAMES} == expected[name]
        assert float(rows[name]["SAD"]) > 0.1  # the perturbation is visible

    summary = json.loads((am2k["out"] / "summary.json").read_text())
    assert summary["complete"] is True and summary["count"] == 3 and summary["dataset_size"] == 3
    assert summary["method"] == "GFM-TT(r)"
    assert summary["settings"]["dataset"]["name"] == "AM-2k validation"
    assert summary["settings"]["trimaps"] == "provided by the dataset"
    for key in METRIC_NAMES:
        assert summary["metrics"][key] == pytest.approx(np.mean([expected[n][key] for n in NAMES]), rel=1e-12)

    table = (am2k["out"] / "table.md").read_text()
    lines = table.splitlines()
    assert lines[0] == "| Dataset | Method | SAD | MSE | MAD | Grad | Conn | SAD-TRAN | SAD-FG | SAD-BG |"
    means = summary["metrics"]
    assert lines[2] == (
        f"| AM-2k validation | GFM-TT(r) | {means['SAD']:.2f} | {means['MSE']:.4f} | {means['MAD']:.4f} | "
        f"{means['GRAD']:.2f} | {means['CONN']:.2f} | {means['SAD_TRAN']:.2f} | {means['SAD_FG']:.2f} | "
        f"{means['SAD_BG']:.2f} |"
    )
    assert "Mean over 3 images" in table
    out = capsys.readouterr().out
    assert lines[2] in out and "trimaps from the dataset" in out


def test_resume_skips_rows_already_in_the_csv(am2k: dict[str, Path]) -> None:
    assert _run(am2k) == 0
    csv_path = am2k["out"] / "per_image.csv"
    first = _rows(csv_path)
    rows = _rows(csv_path)
    rows["sample1"]["CONN"] = "999.0"  # sentinel: a resumed run must keep it
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows["sample1"]))
        writer.writeheader()
        writer.writerow(rows["sample1"])
        writer.writerow(rows["sample3"])  # sample2 "not yet done"
    assert _run(am2k, "--resume") == 0
    resumed = _rows(csv_path)
    assert sorted(resumed) == NAMES
    assert resumed["sample1"]["CONN"] == "999.0"
    assert resumed["sample2"] == rows["sample2"]
    summary = json.loads((am2k["out"] / "summary.json").read_text())
    assert summary["metrics"]["CONN"] > 999.0 / 3
    # without --resume everything is recomputed
    assert _run(am2k) == 0
    assert _rows(csv_path) == first


def test_resume_after_a_truncated_last_row(am2k: dict[str, Path]) -> None:
    assert _run(am2k) == 0
    csv_path = am2k["out"] / "per_image.csv"
    complete = _rows(csv_path)
    text = csv_path.read_text()
    csv_path.write_text(text[: text.rindex("\n", 0, len(text) - 1) + 12])  # the last row cut after a few characters
    assert _run(am2k, "--resume") == 0  # the cut row's image is scored again
    assert _rows(csv_path) == complete


def test_reports_that_cannot_be_written_say_so_in_one_line(am2k: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    am2k["out"].write_text("a file where the report folder should go")
    assert _run(am2k) == 2
    err = capsys.readouterr().err
    assert "out: exists and is not a folder; --out needs a folder for the reports" in err and "Traceback" not in err
    am2k["out"].unlink()
    am2k["out"].mkdir()
    (am2k["out"] / "summary.json").mkdir()  # cannot be replaced by a file: as a full or read-only disk would fail
    assert _run(am2k) == 2
    err = capsys.readouterr().err
    assert "summary.json: cannot write the report" in err and "choose another --out" in err


def test_plain_folders_and_generated_trimaps(am2k: dict[str, Path]) -> None:
    validation = am2k["validation"]
    code = main(
        ["evaluate", "--pred", str(am2k["preds"]), "--images", str(validation / "original"),
         "--alphas", str(validation / "mask"), "--out", str(am2k["out"]), "--no-progress"]
    )
    assert code == 0
    summary = json.loads((am2k["out"] / "summary.json").read_text())
    assert summary["settings"]["trimaps"].startswith("generated from the ground truth")
    assert "trimaps generated from the ground truth" in (am2k["out"] / "table.md").read_text()
    # generated trimaps equal the ones written into the dataset: same numbers
    expected = _expected(am2k)
    rows = _rows(am2k["out"] / "per_image.csv")
    assert {k: float(rows["sample3"][k]) for k in METRIC_NAMES} == expected["sample3"]


def test_cli_errors_exit_2_and_name_the_problem(
    am2k: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    (am2k["preds"] / "sample3.png").unlink()
    assert _run(am2k) == 2
    assert "no prediction for 1 of 3 images: sample3" in capsys.readouterr().err
    assert _run(am2k, "--allow-missing") == 0
    assert "1 images had no prediction: sample3" in capsys.readouterr().out

    Image.fromarray(np.zeros((10, 10), np.uint8)).save(am2k["preds"] / "sample3.png")
    assert _run(am2k) == 2
    assert "sample3.png: prediction is 10x10 but the ground truth" in capsys.readouterr().err

    gt8 = _read8(am2k["validation"] / "mask" / "sample3.png")
    Image.fromarray(_perturbed(gt8, 2)).save(am2k["preds"] / "sample3.png")
    trimap_path = am2k["validation"] / "trimap" / "sample1.png"
    trimap = _read8(trimap_path).copy()
    trimap[trimap == 128] = 100
    Image.fromarray(trimap).save(trimap_path)
    assert _run(am2k) == 2
    err = capsys.readouterr().err
    assert "gfm evaluate: error:" in err and "trimap/sample1.png: trimap has values other than 0/128/255" in err
    assert _run(am2k, "--snap-trimaps") == 0

    rgb = np.dstack([gt8, gt8, 255 - gt8])
    Image.fromarray(rgb).save(am2k["preds"] / "sample3.png")
    assert _run(am2k, "--snap-trimaps") == 2
    assert "sample3.png: alpha matte has colour channels that differ" in capsys.readouterr().err

    assert main(["evaluate", "--pred", "p", "--images", "i", "--out", "o"]) == 2
    assert "--images needs --alphas" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--pred", "p", "--data", "d", "--images", "i", "--out", "o"])
    assert exit_info.value.code == 2
    assert main(["evaluate", "--pred", "p", "--data", str(am2k["out"] / "nothing"), "--out", "o"]) == 2
    assert "dataset folder not found" in capsys.readouterr().err


def test_help_lists_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--pred", "--data", "--subset", "--images", "--alphas", "--trimaps", "--out", "--resume"):
        assert option in text
