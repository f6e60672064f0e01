"""benchmarks/gpu.py, the one script a GPU session runs, in its CPU dry-run mode (library part)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.mark.slow
def test_the_gpu_script_runs_tiny_on_the_cpu_and_writes_its_table(tmp_path: Path) -> None:
    out = tmp_path / "gpu"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu.py"), str(out), "--tiny", "--parts", "library", "--count", "3",
         "--photos", str(ROOT / "examples")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    table = (out / "gpu.md").read_text()
    assert "first photo after the model is loaded" in table and "step: network" in table and "size_bucket" in table
    sections = json.loads((out / "gpu.json").read_text())["sections"]
    assert list(sections) == ["1. the library (gfm-lite, in this process)"]
    assert not (out / "scratch").exists()  # removed at the end
