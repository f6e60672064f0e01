"""The quick start of one photo with the default weights: their checked ONNX export in
$GFM_HOME, run through onnxruntime without importing PyTorch (gfm matte and gfm.remove);
folders and every other model keep PyTorch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gfm.cli.main import main
from gfm.inference import fast_start

pytest.importorskip("onnxruntime", reason="the quick start needs onnxruntime (the onnx extra)")
pytest.importorskip("onnx", reason="exporting the quick start needs onnx (the onnx extra)")

EXAMPLES = Path(__file__).parents[2] / "examples" / "original"
PHOTO = EXAMPLES / "sample2.jpg"


def _bundled_default() -> bool:
    from gfm.errors import CheckpointError
    from gfm.hub import weights_path
    from gfm.inference.models import default_model_name

    try:
        weights_path(default_model_name())
    except CheckpointError:
        return False
    return True


pytestmark = [pytest.mark.slow, pytest.mark.skipif(not _bundled_default(), reason="the bundled default weights are not installed")]


def _alpha(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)[..., 3].astype(int)


def _no_torch_run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = f"import sys\n{code}\nassert 'torch' not in sys.modules, 'torch was imported'\n"
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=180)


def test_one_photo_runs_without_pytorch_once_prepared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GFM_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GFM_FAST_START", raising=False)
    assert fast_start.find() is None
    # the first single-photo run: PyTorch, then the export (said once)
    assert main(["matte", str(PHOTO), "-o", str(tmp_path / "first.png"), "--precision", "fp32"]) == 0
    err = capsys.readouterr().err
    assert "strategy single, precision fp32" in err and "preparing a quicker start" in err
    record = fast_start.find()
    assert record is not None and record.model == "gfm-lite" and Path(record.onnx).is_file()

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = _no_torch_run(f"from gfm.cli.main import main\nassert main(['matte', {str(PHOTO)!r}, '-o', {str(tmp_path / 'quick.png')!r}]) == 0", env)
    assert done.returncode == 0, done.stderr
    assert "through onnxruntime (the quick start for one photo)" in done.stderr
    # the same matte as PyTorch at fp32: within the export's check (1e-4), i.e. at most one level of 255
    assert np.abs(_alpha(tmp_path / "quick.png") - _alpha(tmp_path / "first.png")).max() <= 1

    done = _no_torch_run(f"import gfm\ncut = gfm.remove({str(PHOTO)!r})\nassert cut.mode == 'RGBA' and cut.size == (800, 1200)", env)
    assert done.returncode == 0, done.stderr

    # a folder keeps PyTorch (faster once running); so does any other --precision / --model
    assert main(["matte", str(EXAMPLES), "--out", str(tmp_path / "folder"), "--outputs", "alpha"]) == 0
    assert "through onnxruntime" not in capsys.readouterr().err
    assert main(["matte", str(PHOTO), "-o", str(tmp_path / "bf16.png"), "--precision", "bf16"]) == 0
    assert "through onnxruntime" not in capsys.readouterr().err
    # turned off: PyTorch, and no export offered
    monkeypatch.setenv("GFM_FAST_START", "0")
    fast_start.record_path().unlink()
    assert main(["matte", str(PHOTO), "-o", str(tmp_path / "off.png")]) == 0
    err = capsys.readouterr().err
    assert "through onnxruntime" not in err and "quicker start" not in err and not fast_start.record_path().exists()


def test_a_stale_export_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GFM_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GFM_FAST_START", raising=False)
    record = fast_start.create()
    assert fast_start.find() == record and fast_start.find("gfm-lite") == record
    assert fast_start.find("gfm-r34-tt") is None  # other weights: PyTorch
    monkeypatch.setenv("GFM_FAST_START", "0")
    assert fast_start.find() is None and not fast_start.enabled()
    monkeypatch.delenv("GFM_FAST_START")
    saved = json.loads(fast_start.record_path().read_text())
    for key, value in (("version", "0.0.0"), ("mtime_ns", 1), ("onnx_size", 5), ("weights", str(tmp_path / "other" / "weights" / "x.pth"))):
        fast_start.record_path().write_text(json.dumps({**saved, key: value}))
        assert fast_start.find() is None, key
    fast_start.record_path().write_text("{not json")
    assert fast_start.find() is None
