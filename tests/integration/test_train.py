"""`gfm train` end to end on the demo data (tiny model, small crops: seconds)."""

from __future__ import annotations

import csv
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gfm
from gfm.cli.main import main

DEMO = Path(__file__).parents[1] / "data" / "am2k"
FAST = ["--set", "data.out_size=64", "--set", "data.crop_sizes=[128,192]", "--set", "log.progress=false", "--workers", "0", "--device", "cpu"]


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """A writable copy of the demo pairs (the cache goes next to the data)."""
    return Path(shutil.copytree(DEMO, tmp_path / "am2k"))


@pytest.fixture
def backgrounds(tmp_path: Path) -> Path:
    folder = tmp_path / "backgrounds"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        yy, xx = np.mgrid[0:300, 0:420].astype(np.float32)
        base = np.stack([(xx / 420) * 255, (yy / 300) * 255, np.full_like(xx, 40.0 * i)], axis=2)
        noise = rng.normal(0, 12, base.shape)
        Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(folder / f"bg{i}.jpg")
    return folder


def _rows(run: Path) -> list[dict[str, str]]:
    with (run / "train.csv").open() as f:
        return list(csv.DictReader(f))


def test_loss_falls_on_rssn_composites(tmp_path: Path, demo: Path, backgrounds: Path) -> None:
    run = tmp_path / "run"
    args = ["train", "--preset", "comp-rssn-tiny-tt", "--data", str(demo), "--backgrounds", str(backgrounds), "--out", str(run)]
    args += FAST + ["--steps", "80", "--batch-size", "4", "--set", "optim.lr=0.001", "--set", "log.log_every=1"]
    args += ["--set", "data.foreground_method=ml", "--set", "data.denoiser=nlm", "--set", "data.compute_missing=true"]
    assert main(args) == 0
    totals = [float(r["total"]) for r in _rows(run)]
    assert len(totals) == 80
    # the crops and backgrounds differ at every step: compare averages of ten steps
    assert np.mean(totals[-10:]) < 0.8 * np.mean(totals[:10]), totals
    assert "fusion_composition" in _rows(run)[0]  # RSSN composites carry their true F and B
    saved = (run / "config.yaml").read_text()
    assert "route: rssn" in saved and "track: comp" in saved
    model = gfm.load_model(run / "last.pt")  # exported weights with metadata
    assert model.config.name == "tiny-TT" and model.checkpoint_meta.provenance["step"] == 80


def _train_process(args: list[str]) -> subprocess.Popen[bytes]:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "gfm.cli.main", "train", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_killed_run_resumes_with_the_same_losses(tmp_path: Path, demo: Path) -> None:
    common = ["--preset", "ori-am2k-tiny-tt", "--data", str(demo), "--batch-size", "2", *FAST, "--set", "log.log_every=1", "--set", "log.checkpoint_every=2"]
    straight = _train_process([*common, "--out", str(tmp_path / "a"), "--steps", "10"])
    assert straight.wait(timeout=240) == 0, straight.stdout.read().decode() if straight.stdout else ""

    killed = _train_process([*common, "--out", str(tmp_path / "b"), "--steps", "10"])
    # Killed at its first checkpoint (step 2 of 10): waiting for a later one could miss it on a
    # loaded machine (only the last few are kept) and let the run finish before the kill.
    checkpoints = tmp_path / "b" / "checkpoints"
    deadline = time.monotonic() + 240
    while not any(checkpoints.glob("step_*.pt")) and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    assert any(checkpoints.glob("step_*.pt"))
    steps_done = max(int(p.stem.split("_")[1]) for p in checkpoints.glob("step_*.pt"))
    assert steps_done < 10  # it really was interrupted
    resumed = _train_process([*common, "--out", str(tmp_path / "b"), "--steps", "10", "--resume"])
    assert resumed.wait(timeout=240) == 0, resumed.stdout.read().decode() if resumed.stdout else ""

    a, b = _rows(tmp_path / "a"), _rows(tmp_path / "b")
    assert [r["step"] for r in b] == [str(i) for i in range(1, 11)]
    for key in ("total", "glance_ce", "focus_alpha", "fusion_alpha"):
        assert [r[key] for r in a] == [r[key] for r in b], key


def test_resume_across_epochs_with_gradient_accumulation(tmp_path: Path, demo: Path) -> None:
    """3 images, batch 1, accumulate 2: a step takes 2 batches of one epoch and the
    third is left out, so a checkpoint at an epoch's end holds no half-accumulated
    gradient and the resumed run continues exactly."""
    common = ["train", "--preset", "ori-am2k-tiny-tt", "--data", str(demo), "--batch-size", "1", *FAST]
    common += ["--set", "optim.accumulate=2", "--set", "log.log_every=1", "--set", "log.checkpoint_every=1"]
    assert main([*common, "--out", str(tmp_path / "a"), "--steps", "4"]) == 0
    assert main([*common, "--out", str(tmp_path / "b"), "--steps", "2"]) == 0  # stops at the end of epoch 2
    assert main([*common, "--out", str(tmp_path / "b"), "--steps", "4", "--resume"]) == 0
    a, b = _rows(tmp_path / "a"), _rows(tmp_path / "b")
    assert [r["step"] for r in a] == ["1", "2", "3", "4"] and [r["epoch"] for r in a] == ["0", "1", "2", "3"]
    assert [r["step"] for r in b] == ["1", "2", "3", "4"]
    for key in ("total", "glance_ce", "focus_alpha", "fusion_alpha"):
        assert [r[key] for r in a] == [r[key] for r in b], key


def test_cpu_bf16_channels_last_cosine_run(tmp_path: Path, demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The default-model recipe's options: bf16 autocast and channels-last on CPU,
    warm-up then cosine decay, logged per step; the weights load for matting.
    Channels-last with bf16 on CPU is refused with a note (it crashed oneDNN's
    backward here: a double free with several threads, an abort of the whole test
    run with one), not left to crash."""
    args = ["train", "--preset", "ori-am2k-tiny-tt", "--data", str(demo), "--batch-size", "2", *FAST, "--steps", "4",
            "--out", str(tmp_path / "run"), "--set", "optim.amp=bf16", "--set", "optim.channels_last=true",
            "--set", "optim.schedule=cosine", "--set", "optim.warmup_steps=2", "--set", "optim.lr=0.001",
            "--set", "log.log_every=1"]
    assert main(args) == 0
    assert "note: optim.channels_last is ignored" in capsys.readouterr().err
    rows = _rows(tmp_path / "run")
    lrs = [float(r["lr"]) for r in rows]
    assert lrs[:2] == pytest.approx([5e-4, 1e-3]) and lrs[2] > lrs[3] >= 0
    assert all(math.isfinite(float(r["total"])) for r in rows)
    model = gfm.load_model(tmp_path / "run" / "last.pt")
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_two_process_gloo_run_completes(tmp_path: Path, demo: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1", "--master_port", str(port)]
    cmd += ["-m", "gfm.cli.main", "train", "--preset", "ori-am2k-tiny-tt", "--data", str(demo), "--out", str(run), "--steps", "3", "--batch-size", "1", *FAST, "--set", "log.log_every=1"]
    result = subprocess.run(cmd, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = _rows(run)
    assert [r["step"] for r in rows] == ["1", "2", "3"]  # one writer: rank 0
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_00000003.pt"]
    assert float(rows[0]["samples_per_s"]) > 0


def test_validation_keeps_the_best_weights(tmp_path: Path, demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    args = ["train", "--preset", "ori-am2k-tiny-ft", "--data", str(demo), "--validation", str(demo), "--out", str(run), "--epochs", "2", "--batch-size", "3", *FAST]
    assert main(args) == 0
    with (run / "val.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"] and all(float(r["SAD"]) >= 0 for r in rows)
    best = gfm.load_model(run / "best.pt")
    assert best.checkpoint_meta.provenance["validation_SAD"] == pytest.approx(min(float(r["SAD"]) for r in rows), rel=1e-5)
    assert "weights:" in capsys.readouterr().out
    assert main(["matte", str(DEMO / "original" / "sample1.jpg"), "--out", str(tmp_path / "mattes"), "--model", str(run / "best.pt"), "-q"]) == 0
    assert (tmp_path / "mattes" / "sample1_alpha.png").is_file()


def test_rim_preset_trains(tmp_path: Path, demo: Path) -> None:
    run = tmp_path / "rim"
    args = ["train", "--preset", "ori-am2k-tiny-rim", "--data", str(demo), "--out", str(run), "--steps", "2", "--batch-size", "2", *FAST]
    assert main([*args, "--workers", "2"]) == 0  # with loader worker processes
    assert {"glance_ce_BT", "rim_alpha"} <= set(_rows(run)[0])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--set", "optim.lrr=1"], "unknown key optim.lrr; allowed keys of optim:"),
        (["--set", "optim.lr=fast"], "optim.lr: expected a number, got 'fast'"),
        (["--set", "data.out_size=100"], "data.out_size must be a multiple of 32"),
        (["--set", "nonsense"], "must look like section.key=value"),
    ],
)
def test_bad_configuration(tmp_path: Path, demo: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--preset", "ori-am2k-tiny-tt", "--data", str(demo), "--out", str(tmp_path / "r"), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # nothing written before the config is valid


def test_missing_pyyaml_names_the_extra(tmp_path: Path, demo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain `pip install gfm` (no train extra) gets one line that says what to install, not a traceback."""
    import sys

    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml now raises ImportError
    assert main(["train", "--preset", "ori-am2k-tiny-tt", "--data", str(demo), "--out", str(tmp_path / "r"), "--set", "optim.lr=1e-4"]) == 2
    assert "needs PyYAML: pip install 'gfm-matting[train]'" in capsys.readouterr().err


def test_bad_inputs_fail_before_damage(tmp_path: Path, demo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["train", "--preset", "ori-am2k-tiny-tt", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "r")]) == 2
    assert "missing: data.root (--data) folder not found" in capsys.readouterr().err
    assert main(["train", "--preset", "nope-r34-tt", "--data", str(demo)]) == 2
    assert "unknown preset" in capsys.readouterr().err

    run = tmp_path / "run"
    base = ["train", "--preset", "ori-am2k-tiny-tt", "--data", str(demo), "--out", str(run), "--batch-size", "2", *FAST, "--set", "log.checkpoint_every=1"]
    assert main(base + ["--steps", "1"]) == 0
    first = run / "checkpoints" / "step_00000001.pt"
    content = first.read_bytes()
    # a fresh run into a folder with checkpoints is refused
    assert main(base + ["--steps", "2"]) == 2
    assert "--resume" in capsys.readouterr().err
    # resuming with another variant is refused before anything is written
    assert main(["train", "--resume", "--out", str(run), "--set", "model.rosta=FT", "--steps", "2"]) == 2
    assert "trained as tiny-TT" in capsys.readouterr().err
    # a full disk: a clear error, and the previous checkpoint intact
    from gfm.engine import checkpoints

    monkeypatch.setattr(checkpoints.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))
    assert main(["train", "--resume", "--out", str(run), "--steps", "2"]) == 2
    assert "MB free, a checkpoint needs" in capsys.readouterr().err
    assert first.read_bytes() == content and sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_00000001.pt"]


@pytest.mark.parametrize("workers", ["0", "2"])
def test_an_unreadable_training_image_is_skipped_and_counted_or_strict(
    tmp_path: Path, demo: Path, workers: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """One truncated JPEG among the training images: the run goes on and says so; data.strict stops it in one line.

    (capfd: the loader workers' lines go to the process's stderr, not to sys.stderr of this one.)
    """
    images = sorted(p for p in demo.rglob("*.jpg") if "gfm-cache" not in p.parts)
    data = images[0].read_bytes()
    images[0].write_bytes(data[: len(data) // 3])  # the header (and size) intact: found only when decoded
    fast = [a if a != "0" else workers for a in FAST]
    base = ["train", "--preset", "ori-am2k-tiny-tt", "--data", str(demo), "--batch-size", "2", *fast, "--steps", "2"]
    assert main(base + ["--out", str(tmp_path / "lenient")]) == 0
    err = capfd.readouterr().err
    assert f"gfm train: skipped an unreadable item ({images[0]}: cannot decode image" in err
    assert "unreadable training item(s) were replaced by readable ones" in err
    assert main(base + ["--out", str(tmp_path / "strict"), "--set", "data.strict=true"]) == 2
    err = capfd.readouterr().err
    assert f"gfm train: error: {images[0]}: cannot decode image" in err
    assert "Traceback" not in err and "DataLoader worker" not in err


def test_step_limits_count_epochs_and_validate(tmp_path: Path, demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """3 images, batch 1: --steps 3 is exactly one epoch (counted, validated); --steps 2
    stops mid-epoch and still validates at its end; a finished run says so on --resume."""
    base = ["train", "--preset", "ori-am2k-tiny-tt", "--data", str(demo), "--validation", str(demo), "--batch-size", "1", *FAST]
    assert main([*base, "--out", str(tmp_path / "whole"), "--steps", "3"]) == 0
    assert "3 steps, 1 epoch completed; last losses glance_ce=" in capsys.readouterr().out
    with (tmp_path / "whole" / "val.csv").open() as f:
        assert [(r["step"], r["epoch"]) for r in csv.DictReader(f)] == [("3", "1")]
    assert (tmp_path / "whole" / "best.pt").is_file()

    import torch

    before = torch.get_num_threads()
    assert main([*base, "--out", str(tmp_path / "part"), "--steps", "2", "--threads", "1"]) == 0
    captured = capsys.readouterr()
    assert "2 steps, 0 epochs completed" in captured.out
    assert "cpu: 1 PyTorch thread(s) a process, 0 loader worker(s)" in captured.err
    assert torch.get_num_threads() == before  # the caller's setting is restored
    with (tmp_path / "part" / "val.csv").open() as f:
        assert [(r["step"], r["epoch"]) for r in csv.DictReader(f)] == [("2", "0")]

    assert main(["train", "--resume", "--out", str(tmp_path / "part")]) == 0
    captured = capsys.readouterr()
    assert "already trained to step 2 of 2: nothing to do (raise --steps or --epochs" in captured.err
    assert "last losses" not in captured.out


def test_an_interrupted_run_says_where_resume_continues(tmp_path: Path) -> None:
    from gfm.engine.resume import interrupted_message

    assert "no checkpoint was written yet" in interrupted_message(tmp_path, 3)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "step_00000025.pt").write_bytes(b"")
    message = interrupted_message(tmp_path, 41)
    assert "continues from" in message and "step_00000025.pt (step 25)" in message and "steps 26-41 will be trained again" in message


def test_automatic_threads_and_workers(tmp_path: Path, demo: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """No --threads / --workers: a 3-image set loads in the training process, and the
    threads are the free cores (gfm.cpu)."""
    from gfm import cpu

    monkeypatch.setattr(cpu, "free_cores", lambda cores=None: 1)  # a busy machine
    fast = [a for a in FAST if a not in ("--workers", "0")]
    assert main(["train", "--preset", "ori-am2k-tiny-tt", "--data", str(demo), "--batch-size", "1", *fast,
                 "--out", str(tmp_path / "r"), "--steps", "1"]) == 0
    assert "cpu: 1 PyTorch thread(s) a process, 0 loader worker(s)" in capsys.readouterr().err
    assert "workers: null" in (tmp_path / "r" / "config.yaml").read_text()
