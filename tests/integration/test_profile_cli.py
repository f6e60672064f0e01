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
    assert lines[0] == "| Model | Params (M) | Params used (M) | GMACs | GMACs (conv only) | Time (s) | Time range (s) | Peak memory (MiB) |"
    cells = [c.strip() for c in lines[2].strip("|").split("|")]
    assert cells[:3] == ["tiny-TT", "0.60", "0.60"]
    assert float(cells[5]) > 0 and 10 < float(cells[7]) < 100_000
    low, high = (float(v) for v in cells[6].split("-"))
    assert low <= float(cells[5]) <= high
    assert "warm-up passes (run until 3 in a row agreed within 10%" in text
    assert "threads=1" in text and "optimize_for_inference" in text and "VmHWM" in text


def test_counts_only_and_json_for_a_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "--variants", "r34-TT", "--repeats", "0"]) == 0
    assert "| r34-TT | 55.29 | 54.77 | 132.28 | 131.81 | n/a | n/a | n/a |" in capsys.readouterr().out

    path = gfm.save_checkpoint(gfm.create_model("tiny", "FT"), tmp_path / "tiny_ft.pth")
    assert main(["profile", "--model", str(path), "--size", "96", "--repeats", "2", "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["architecture"] == "tiny-FT" and row["size"] == 96
    assert row["params_total"] == row["params_used"] == sum(p.numel() for p in gfm.load_model(path).parameters())
    assert row["macs"]["paper"] > row["macs"]["conv"] > 0
    assert len(row["latency_runs_s"]) == 2 and row["latency_s"] > 0
    assert 3 <= len(row["warmup_runs_s"]) <= 12
    assert row["peak_memory_bytes"] >= row["baseline_memory_bytes"] > 0 and row["threads"] >= 1


def test_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "--variants", "r35-TT", "--repeats", "0"]) == 2
    assert "unknown variant 'r35-TT'" in capsys.readouterr().err
    assert main(["profile", "--variants", "tiny-TT", "--size", "70", "--repeats", "0"]) == 2
    assert "multiples of 32" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:  # refused by the argument's range check
        main(["profile", "--variants", "tiny-TT", "--repeats", "-1"])
    assert exit_info.value.code == 2 and "--repeats: must be 0 or more, got -1" in capsys.readouterr().err


def test_warm_up_runs_until_two_passes_agree() -> None:
    """The series of the report: 3.15, 3.24, 1.12, 0.77, 0.78 s; timing must start after 0.78."""
    from gfm.profiling.profiler import warm_up

    series = iter([3.15, 3.24, 1.12, 0.77, 0.78, 0.77, 0.79])
    assert warm_up(lambda: next(series)) == [3.15, 3.24, 1.12, 0.77, 0.78, 0.77]
    steady = iter([1.0, 1.05, 1.02, 9.0])
    assert warm_up(lambda: next(steady)) == [1.0, 1.05, 1.02]
    noisy = iter([1.0, 2.0] * 20)
    assert len(warm_up(lambda: next(noisy), max_passes=6)) == 6


def test_cuda_without_cuda_is_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["profile", "--variants", "tiny-TT", "--size", "64", "--repeats", "1", "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "profiling tiny-TT ...\ngfm profile: error: --device cuda was asked for but PyTorch sees no CUDA device; use --device cpu"
    assert "Traceback" not in err


def test_a_child_error_is_its_message_not_a_traceback() -> None:
    import subprocess
    import sys

    spec = {"variant": "tiny-TT", "checkpoint": None, "rosta": None, "size": 64, "repeats": 1, "threads": 1, "device": "cuda"}
    import torch

    if torch.cuda.is_available():
        spec["checkpoint"], spec["variant"] = "/nonexistent/x.pth", None
    done = subprocess.run([sys.executable, "-m", "gfm.profiling.profiler", json.dumps(spec)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3 and "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
