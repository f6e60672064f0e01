"""``gfm matte`` and ``gfm evaluate`` split between two CPU processes by torchrun (Gloo):
every image done once, one merged summary, the same outputs and reports as one process."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gfm
from gfm.cli.main import main
from gfm.metrics import METRIC_NAMES

AM2K = Path(__file__).parents[1] / "data" / "am2k"
NAMES = ["sample1", "sample2", "sample3", "wide", "tall"]  # five: the two shares differ in size


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return gfm.save_checkpoint(gfm.create_model("tiny", "TT"), tmp_path_factory.mktemp("weights") / "tiny_tt.pth")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five photos with alphas (the AM-2k demo three and two resized copies) in ROOT/original + ROOT/mask."""
    root = tmp_path_factory.mktemp("pairs")
    for folder in ("original", "mask"):
        shutil.copytree(AM2K / folder, root / folder)
    for name, size in (("wide", (360, 200)), ("tall", (180, 330))):
        Image.open(AM2K / "original" / "sample1.jpg").resize(size).save(root / "original" / f"{name}.jpg", quality=95)
        Image.open(AM2K / "mask" / "sample1.png").resize(size).save(root / "mask" / f"{name}.png")
    return root


def _torchrun(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "gfm.cli.main", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_matte_under_torchrun_matches_one_process_and_resumes(
    dataset: Path, checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = tmp_path / "photos"
    shutil.copytree(dataset / "original", photos)
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    options = ["--model", str(checkpoint), "--device", "cpu", "--threads", "1", "--outputs", "alpha,cutout", "-q"]

    assert main(["matte", str(photos), "--out", str(tmp_path / "one"), *options]) == 1  # the broken file
    single = capsys.readouterr().err
    assert "5 matted, 0 skipped, 1 failed" in single

    run = _torchrun("matte", str(photos), "--out", str(tmp_path / "two"), *options)
    assert run.returncode != 0, run.stderr  # a failed image fails the run, as with one process
    summaries = [line for line in run.stderr.splitlines() if " matted, " in line]
    assert len(summaries) == 1 and summaries[0].startswith("5 matted, 0 skipped, 1 failed"), run.stderr
    assert run.stderr.count("broken.jpg:") == 1  # reported once, by the rank that had it

    expected = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert expected == sorted(f"{n}_{k}.png" for n in NAMES for k in ("alpha", "cutout"))
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == expected
    for name in expected:
        np.testing.assert_array_equal(_pixels(tmp_path / "two" / name), _pixels(tmp_path / "one" / name), err_msg=name)

    (tmp_path / "two" / "tall_cutout.png").unlink()  # as if the run had been killed before it
    (photos / "broken.jpg").unlink()
    again = _torchrun("matte", str(photos), "--out", str(tmp_path / "two"), *options, "--skip-existing")
    assert again.returncode == 0, again.stderr
    assert "1 matted, 4 skipped, 0 failed" in again.stderr
    np.testing.assert_array_equal(_pixels(tmp_path / "two" / "tall_cutout.png"), _pixels(tmp_path / "one" / "tall_cutout.png"))


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as handle:
        return {row["name"]: row for row in csv.DictReader(handle)}


def test_evaluate_under_torchrun_writes_the_one_process_reports(
    dataset: Path, checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = ["--model", str(checkpoint), "--data", str(dataset), "--device", "cpu", "--threads", "1", "--no-progress"]
    assert main(["evaluate", *options, "--out", str(tmp_path / "one")]) == 0
    capsys.readouterr()
    run = _torchrun("evaluate", *options, "--out", str(tmp_path / "two"))
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("| Dataset | Method |") == 1  # one table, printed by rank 0

    one, two = _rows(tmp_path / "one" / "per_image.csv"), _rows(tmp_path / "two" / "per_image.csv")
    assert sorted(two) == sorted(NAMES) and list(two) == list(one)
    for name in NAMES:
        assert [two[name][k] for k in METRIC_NAMES] == [one[name][k] for k in METRIC_NAMES], name
    summary_one = json.loads((tmp_path / "one" / "summary.json").read_text())
    summary_two = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert summary_two["metrics"] == summary_one["metrics"]
    assert summary_two["count"] == 5 and summary_two["complete"] and summary_two["settings"] == summary_one["settings"]
    table = (tmp_path / "two" / "table.md").read_text().splitlines()
    assert table[:3] == (tmp_path / "one" / "table.md").read_text().splitlines()[:3]
    assert not list((tmp_path / "two").glob("per_image.part*.csv"))


def test_evaluate_resume_keeps_the_rows_of_an_interrupted_torchrun_run(
    dataset: Path, checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A killed torchrun run leaves each rank's rows in per_image.partRANK.csv: --resume keeps
    them (one process or several), and they are merged into per_image.csv at the end."""
    out = tmp_path / "eval"
    options = ["--model", str(checkpoint), "--data", str(dataset), "--device", "cpu", "--threads", "1", "--no-progress", "--out", str(out)]
    assert main(["evaluate", *options]) == 0
    full = _rows(out / "per_image.csv")
    header = (out / "per_image.csv").read_text().splitlines()[0]
    lines = {row.split(",", 1)[0]: row for row in (out / "per_image.csv").read_text().splitlines()[1:]}
    marker = "1234.5"  # a prediction time no real run has: shows which rows were kept
    (out / "per_image.csv").write_text(header + "\n")
    (out / "per_image.part0.csv").write_text(header + "\n" + lines["sample1"].rsplit(",", 1)[0] + f",{marker}\n")
    (out / "per_image.part1.csv").write_text(header + "\n" + lines["tall"].rsplit(",", 1)[0] + f",{marker}\n")

    assert main(["evaluate", *options, "--resume"]) == 0
    capsys.readouterr()
    rows = _rows(out / "per_image.csv")
    assert sorted(rows) == sorted(NAMES)
    assert [n for n in NAMES if rows[n]["seconds"] == marker] == ["sample1", "tall"]  # kept, not predicted again
    assert all(rows[n][k] == full[n][k] for n in NAMES for k in METRIC_NAMES)
    assert not list(out.glob("per_image.part*.csv"))

    (out / "per_image.part1.csv").write_text(header + "\n")  # a fresh run (no --resume) drops old parts
    assert main(["evaluate", *options]) == 0
    assert not list(out.glob("per_image.part*.csv")) and all(_rows(out / "per_image.csv")[n]["seconds"] != marker for n in NAMES)
