"""Thread counts that fit the machine: training and matting under each configuration.

    python benchmarks/threads.py                      # training: 3 rounds x every configuration, 30 steps each
    python benchmarks/threads.py --matte              # gfm matte of the example photos instead
    python benchmarks/threads.py --rounds 2 --steps 20

Training runs the tiny network on the example photos (the training quick look of docs/training.md), batch 2,
crops 640/960/1280 -> 320 (the presets' data pipeline, so the loader workers
do real decoding and resizing), each configuration in its own ``gfm train``
process. The configurations are interleaved (round 1: A B C ..., round 2:
A B C ...) so that load from other processes falls on all of them alike;
report relative numbers when the machine is not idle. Time per step is taken
from train.csv's timestamps between the first and the last step, so start-up
(imports, model building, worker start) is left out; the stall is the longest
gap between two steps.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples"  # the training quick look (docs/training.md): three photos and their reference mattes
EXAMPLES = ROOT / "examples" / "original"

CORES = str(os.cpu_count() or 1)

# name: (extra gfm arguments, extra environment)
TRAIN_CONFIGS: dict[str, tuple[list[str], dict[str, str]]] = {
    "all threads, 2 workers (PyTorch's default threads)": (["--workers", "2", "--threads", CORES], {}),
    "OMP_NUM_THREADS=1, 2 workers": (["--workers", "2", "--threads", "1"], {"OMP_NUM_THREADS": "1"}),
    "1 thread, 2 workers": (["--workers", "2", "--threads", "1"], {}),
    "1 thread, 1 worker": (["--workers", "1", "--threads", "1"], {}),
    "all threads, 0 workers": (["--workers", "0", "--threads", CORES], {}),
    "1 thread, 0 workers": (["--workers", "0", "--threads", "1"], {}),
}

MATTE_CONFIGS: dict[str, tuple[list[str], dict[str, str]]] = {
    "all threads (PyTorch's default)": (["--threads", CORES], {}),
    "1 thread": (["--threads", "1"], {}),
    "automatic (no --threads)": ([], {}),
}


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}
    env.update(extra)
    return env


def train_once(args: list[str], env: dict[str, str], steps: int, folder: Path) -> tuple[float, float]:
    """(seconds per step, longest gap between steps) of one run."""
    run = folder / f"run{time.monotonic_ns()}"
    cmd = [sys.executable, "-m", "gfm.cli.main", "train", "--preset", "ori-am2k-tiny-tt", "--data", str(DEMO),
           "--out", str(run), "--steps", str(steps), "--batch-size", "2", "--device", "cpu", "--no-progress",
           "--set", "log.log_every=1", "--set", "log.checkpoint_every=100000", *args]
    done = subprocess.run(cmd, env=_clean_env(env), capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    with (run / "train.csv").open() as f:
        stamps = [float(row["time"]) for row in csv.DictReader(f)]
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    return (stamps[-1] - stamps[0]) / (len(stamps) - 1), max(gaps)


def matte_once(args: list[str], env: dict[str, str], model: Path, folder: Path) -> tuple[float, float]:
    out = folder / f"out{time.monotonic_ns()}"
    cmd = [sys.executable, "-m", "gfm.cli.main", "matte", str(EXAMPLES), "--out", str(out), "--model", str(model),
           "--outputs", "alpha,cutout", "-q", *args]
    start = time.perf_counter()
    subprocess.run(cmd, env=_clean_env(env), check=True, capture_output=True)
    return time.perf_counter() - start, 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--matte", action="store_true", help="time gfm matte instead of training")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--variant", default="r34-TT", help="random-weights network for --matte (default r34-TT)")
    options = parser.parse_args()
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}", flush=True)
    results: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if options.matte:
            import gfm

            backbone, rosta = options.variant.split("-")
            model = gfm.save_checkpoint(gfm.create_model(backbone, rosta), folder / "model.pth")
            configs = MATTE_CONFIGS
        else:
            configs = TRAIN_CONFIGS
        for round_ in range(options.rounds):
            for name, (args, env) in configs.items():
                if options.matte:
                    value = matte_once(args, env, model, folder)
                else:
                    value = train_once(args, env, options.steps, folder)
                results.setdefault(name, []).append(value)
                print(f"round {round_ + 1}: {name}: {value[0]:.3f} s{' (longest gap %.2f s)' % value[1] if not options.matte else ''}", flush=True)
    unit = "s for the 3 photos (whole command)" if options.matte else "s a step (median of rounds)"
    best = min(statistics.median(v[0] for v in runs) for runs in results.values())
    print(f"\n| configuration | {unit} | relative | worst gap (s) |\n|---|---:|---:|---:|")
    for name, runs in results.items():
        median = statistics.median(v[0] for v in runs)
        print(f"| {name} | {median:.3f} | {median / best:.2f} | {max(v[1] for v in runs):.2f} |")


if __name__ == "__main__":
    main()
