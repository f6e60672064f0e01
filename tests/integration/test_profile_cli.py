"""``gfm profile`` end to end (tiny variant, small input, one timed pass)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import gfm
from gfm.cli.main import main


def test_markdown_table_of_variants(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "--variants", "tiny-TT", "--size", "64", "--repeats", "1", "--threads", "1"]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0] == "| Model | Params (M) | Params used (M) | GMACs | GMACs (conv only) | Time (s) | Peak memory (MiB) |"
    cells = [c.strip() for c in lines[2].strip("|").split("|")]
    assert cells[:3] == ["tiny-TT", "0.60", "0.60"]
    assert float(cells[5]) > 0 and 10 < float(cells[6]) < 100_000
    assert "threads=1" in text and "optimize_for_inference" in text and "VmHWM" in text


def test_counts_only_and_json_for_a_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "--variants", "r34-TT", "--repeats", "0"]) == 0
    assert "| r34-TT | 55.29 | 54.77 | 132.28 | 131.81 | n/a | n/a |" in capsys.readouterr().out

    path = gfm.save_checkpoint(gfm.create_model("tiny", "FT"), tmp_path / "tiny_ft.pth")
    assert main(["profile", "--model", str(path), "--size", "96", "--repeats", "2", "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["architecture"] == "tiny-FT" and row["size"] == 96
    assert row["params_total"] == row["params_used"] == sum(p.numel() for p in gfm.load_model(path).parameters())
    assert row["macs"]["paper"] > row["macs"]["conv"] > 0
    assert len(row["latency_runs_s"]) == 2 and row["latency_s"] > 0
    assert row["peak_memory_bytes"] >= row["baseline_memory_bytes"] > 0 and row["threads"] >= 1


def test_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "--variants", "r35-TT", "--repeats", "0"]) == 2
    assert "unknown variant 'r35-TT'" in capsys.readouterr().err
    assert main(["profile", "--variants", "tiny-TT", "--size", "70", "--repeats", "0"]) == 2
    assert "multiples of 32" in capsys.readouterr().err
    assert main(["profile", "--variants", "tiny-TT", "--repeats", "-1"]) == 2
