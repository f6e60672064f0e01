"""Every GPU measurement of issue 20 in one run: inference throughput, first-photo latency,
where the time goes, and training samples/s, with the GPU's utilisation.

    python benchmarks/gpu.py OUT                  # on a GPU machine: about 5-8 minutes
    python benchmarks/gpu.py OUT --tiny           # a dry run of every part on the CPU, tiny sizes (about 2 minutes)

Photos: ``--count`` copies (default 64) of the photos with mattes under ``--photos``
(a folder of NAME.jpg + NAME.png pairs, its sub-folders, or original/ + mask/;
default the first of shared/data, /work/shared/data, examples), each resized to a
random width in 1400..1840 px (aspect kept): varied sizes around 1620x1080, as
real folders have. Parts, each written to OUT/gpu.md and OUT/gpu.json as soon as
it is done (a run cut short keeps what it measured):

1. the library in this process (gfm-lite, the default model): model load, the
   first photo after it, then each step's share on the rest (decode, the input
   resize, the network with its copies, the output resize, the fusion, the
   foreground colours, the two PNGs), and the network's photos/s with each new
   size, with one size repeated, with Predictor.size_bucket and with
   cudnn.benchmark (and what the buckets change in the alpha);
2. ``gfm matte --device cuda`` (alpha + cutout) and ``gfm evaluate --device cuda``
   folder to folder: photos/s once running (the rate between a run of a quarter
   of the photos and a run of all of them, so start-up cancels out), the rate
   each command prints, the whole command's time for one photo, GPU utilisation;
   and the metrics' time per photo (evaluate's CPU share);
3. training: ``gfm train`` for the paper's r34-TT with RSSN composites
   (``--preset comp-rssn-r34-tt``, NLM denoising) and the default model's recipe
   config (recipes/default-model/train.yaml) with ``--workers``: samples/s, GPU
   utilisation, and the same network's samples/s on one batch kept on the GPU
   (no loader: the GPU's ceiling; far above the first means loader-bound); then
   the paper's AM-2k schedules in hours on one and on eight such GPUs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
AM2K_SAMPLES = 1800 * 500  # ORI-Track: 1,800 training images, 500 epochs (COMP-Track: 1,800 x 5 backgrounds, 100 epochs: the same)


class Report:
    """Sections of rows, written as Markdown and JSON after every part."""

    def __init__(self, out: Path, header: list[str]) -> None:
        self.out, self.header = out, header
        self.sections: dict[str, list[tuple[str, str, str]]] = {}

    def add(self, section: str, what: str, value: str, note: str = "") -> None:
        self.sections.setdefault(section, []).append((what, value, note))
        print(f"[{section}] {what}: {value}{'  (' + note + ')' if note else ''}", flush=True)

    def markdown(self) -> str:
        lines = [*self.header, ""]
        for section, rows in self.sections.items():
            lines += [f"### {section}", "", "| measurement | value | note |", "|---|---:|---|"]
            lines += [f"| {what} | {value} | {note} |" for what, value, note in rows]
            lines.append("")
        return "\n".join(lines)

    def write(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "gpu.md").write_text(self.markdown(), encoding="utf-8")
        data = {"header": self.header, "sections": {s: [dict(zip(("what", "value", "note"), r)) for r in rows] for s, rows in self.sections.items()}}
        (self.out / "gpu.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


class Utilisation:
    """GPU utilisation (%) sampled by ``nvidia-smi`` every 200 ms in the background; n/a without it."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self.process: subprocess.Popen[str] | None = None
        if shutil.which("nvidia-smi") and torch.cuda.is_available():
            self.process = subprocess.Popen(
                ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-lms", "200", "-i", "0"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            try:
                self.samples.append((time.time(), float(line.strip())))
            except ValueError:
                continue

    @contextmanager
    def during(self) -> Iterator[Callable[[], str]]:
        start = time.time()
        span: list[float] = []
        yield lambda: self.mean(*span) if span else "n/a"
        span += [start, time.time()]

    def mean(self, start: float, end: float) -> str:
        values = [u for t, u in self.samples if start <= t <= end]
        return f"{statistics.mean(values):.0f}% GPU" if values else "n/a (no nvidia-smi)"

    def close(self) -> None:
        if self.process is not None:
            self.process.terminate()


def find_pairs(folder: Path) -> list[tuple[Path, Path]]:
    """(photo, matte) pairs: original/ + mask/, or NAME.jpg + NAME.png side by side (sub-folders too)."""
    if (folder / "original").is_dir() and (folder / "mask").is_dir():
        return [(p, folder / "mask" / f"{p.stem}.png") for p in sorted((folder / "original").iterdir())
                if (folder / "mask" / f"{p.stem}.png").is_file()]
    return [(p, p.with_suffix(".png")) for p in sorted(folder.rglob("*.jpg")) if p.with_suffix(".png").is_file()]


def make_photos(source: Path, out: Path, count: int, widths: tuple[int, int], seed: int = 0) -> list[Path]:
    """``count`` photos with their mattes in OUT/original + OUT/mask, at random widths (aspect kept)."""
    pairs = find_pairs(source)
    if not pairs:
        raise SystemExit(f"{source}: no photo with a matte (NAME.jpg + NAME.png, or original/ + mask/); pass --photos DIR")
    rng = np.random.default_rng(seed)
    (out / "original").mkdir(parents=True, exist_ok=True)
    (out / "mask").mkdir(parents=True, exist_ok=True)
    photos = []
    for i in range(count):
        image_path, mask_path = pairs[i % len(pairs)]
        image, mask = cv2.imread(str(image_path)), cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
        width = int(rng.integers(widths[0], widths[1] + 1))
        size = (width, max(16, round(image.shape[0] * width / image.shape[1])))
        name = f"p{i:03d}_{image_path.stem}"
        cv2.imwrite(str(out / "original" / f"{name}.jpg"), cv2.resize(image, size, interpolation=cv2.INTER_AREA), [cv2.IMWRITE_JPEG_QUALITY, 92])
        cv2.imwrite(str(out / "mask" / f"{name}.png"), cv2.resize(mask, size, interpolation=cv2.INTER_AREA))
        photos.append(out / "original" / f"{name}.jpg")
    return photos


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


class StepTimer:
    """Wraps functions of a module to add up the seconds spent in them."""

    def __init__(self) -> None:
        self.total: dict[str, float] = {}
        self._restore: list[tuple[Any, str, Any]] = []

    def wrap(self, module: Any, name: str, label: str) -> None:
        original = getattr(module, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.total[label] = self.total.get(label, 0.0) + time.perf_counter() - start

        setattr(module, name, timed)
        self._restore.append((module, name, original))

    def take(self) -> dict[str, float]:
        taken, self.total = self.total, {}
        return taken

    def restore(self) -> None:
        for module, name, original in reversed(self._restore):
            setattr(module, name, original)


def part_library(report: Report, photos: list[Path], device: torch.device) -> None:
    """Model load, the first photo, each step's share, and the network's rate with sizes repeating or not."""
    from gfm.inference import Predictor
    from gfm.inference import predictor as predictor_module
    from gfm.inference.foreground import DEFAULT_FOREGROUND, cutout, estimate_foreground
    from gfm.io import read_alpha, read_image, write_alpha, write_image
    from gfm.metrics import sad

    section = "1. the library (gfm-lite, in this process)"
    scratch = report.out / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    from gfm.inference.band_solver import prepare

    start = time.perf_counter()
    prepare()  # what gfm matte does before its first photo
    report.add(section, "foreground kernels (numba: compiled once after installation, then loaded)", ms(time.perf_counter() - start))
    start = time.perf_counter()
    predictor = Predictor.from_name(None, device=device)
    sync(device)
    report.add(section, "model load (bundled gfm-lite, to the device)", ms(time.perf_counter() - start),
               f"strategy {predictor.strategy.name}, precision {predictor.precision}")

    timer = StepTimer()
    timer.wrap(predictor_module, "to_network_input", "input resize (CPU)")
    timer.wrap(predictor_module, "from_network_output", "output resize (CPU)")
    timer.wrap(predictor_module, "_fuse_full_resolution", "fusion (CPU)")
    steps: dict[str, list[float]] = {}

    def one(photo: Path, index: int) -> dict[str, float]:
        marks = {"start": time.perf_counter()}
        image = read_image(photo)
        marks["decode"] = time.perf_counter()
        alpha = predictor.predict(image).alpha
        sync(device)
        marks["predict"] = time.perf_counter()
        colours = estimate_foreground(image, alpha, DEFAULT_FOREGROUND)
        marks["foreground colours"] = time.perf_counter()
        write_alpha(scratch / f"{index}_alpha.png", alpha)
        marks["alpha PNG"] = time.perf_counter()
        write_image(scratch / f"{index}_cutout.png", cutout(colours, alpha))
        marks["cutout PNG"] = time.perf_counter()
        times = dict(zip(list(marks)[1:], np.diff(list(marks.values()))))
        inside = timer.take()
        times["network (GPU, with copies)"] = times.pop("predict") - sum(inside.values())
        return {**inside, **times}

    first = one(photos[0], 0)
    report.add(section, "first photo after the model is loaded", ms(sum(first.values())),
               ", ".join(f"{k} {ms(v)}" for k, v in first.items()))
    for i, photo in enumerate(photos[1:], 1):
        for step, seconds in one(photo, i).items():
            steps.setdefault(step, []).append(seconds)
    timer.restore()
    medians = {step: statistics.median(v) for step, v in steps.items()}
    whole = sum(medians.values())
    for step, value in sorted(medians.items(), key=lambda kv: -kv[1]):
        report.add(section, f"step: {step}", ms(value), f"{100 * value / whole:.0f}% of {ms(whole)} a photo (median of {len(photos) - 1})")
    report.add(section, "photos/s if the steps ran one after another", f"{1 / whole:.2f}")
    report.add(section, "photos/s if they overlapped perfectly (the slowest step)", f"{1 / max(medians.values()):.2f}",
               f"limited by {max(medians, key=medians.get)}")  # type: ignore[arg-type]
    report.write()

    images = [read_image(p) for p in photos]
    masks = [read_alpha(Path(str(p).replace("/original/", "/mask/")).with_suffix(".png")) for p in photos]

    def rate(label: str, batch: list[np.ndarray], note: str = "") -> list[np.ndarray]:
        alphas, times = [], []
        for image in batch:
            start = time.perf_counter()
            alphas.append(predictor.predict(image).alpha)
            sync(device)
            times.append(time.perf_counter() - start)
        report.add(section, f"predict photos/s, {label}", f"{len(batch) / sum(times):.2f}",
                   f"median {ms(statistics.median(times))}, slowest {ms(max(times))}" + (f"; {note}" if note else ""))
        return alphas

    plain = rate("each photo a new size (default)", images)
    rate("one size repeated", [images[0]] * len(images))
    predictor.size_bucket = 128
    bucketed = rate("Predictor.size_bucket = 128", images)
    change = statistics.mean(float(np.abs(a - b).mean()) * 255 for a, b in zip(plain, bucketed))
    sads = [statistics.mean(sad(a, m) for a, m in zip(alphas, masks)) for alphas in (plain, bucketed)]
    report.add(section, "what size_bucket = 128 changes in the alpha", f"{change:.2f} levels",
               f"mean over the photos; SAD against the mattes {sads[0]:.2f} -> {sads[1]:.2f}")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        rate("size_bucket = 128 + cudnn.benchmark", images)
        predictor.size_bucket = None
        rate("cudnn.benchmark, each photo a new size", images)
        torch.backends.cudnn.benchmark = False
    predictor.size_bucket = None
    report.write()


def timed_command(command: list[str], log: Path, timeout: float) -> tuple[float, str]:
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - start
    log.write_text(f"$ {' '.join(command)}\nexit {result.returncode}, {seconds:.1f} s\n{result.stdout}\n{result.stderr}", encoding="utf-8")
    if result.returncode != 0:
        raise RuntimeError(f"exit {result.returncode} (see {log}): {result.stderr.strip().splitlines()[-1:] }")
    return seconds, result.stdout + result.stderr


def part_commands(report: Report, data: Path, photos: list[Path], device: str, util: Utilisation) -> None:
    """gfm matte and gfm evaluate folder to folder: photos/s once running, and one photo's whole command."""
    from gfm.io import read_alpha
    from gfm.metrics import evaluate_alpha, trimap_from_alpha

    section = f"2. gfm matte / gfm evaluate --device {device}, folder to folder"
    logs = report.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    quarter = data.parent / "quarter"
    for folder in ("original", "mask"):
        (quarter / folder).mkdir(parents=True, exist_ok=True)
    for photo in photos[: max(1, len(photos) // 4)]:
        for folder, suffix in (("original", ".jpg"), ("mask", ".png")):
            target = quarter / folder / f"{photo.stem}{suffix}"
            if not target.exists():
                os.link(data / folder / f"{photo.stem}{suffix}", target)
    gfm = [sys.executable, "-m", "gfm.cli.main"]
    counts = {"all": len(photos), "quarter": max(1, len(photos) // 4)}
    for command in ("matte", "evaluate"):
        walls, printed, used = {}, "", "n/a"
        for which, root in (("quarter", quarter), ("all", data)):
            out = report.out / "scratch" / f"{command}-{which}"
            shutil.rmtree(out, ignore_errors=True)
            if command == "matte":
                args = [*gfm, "matte", str(root / "original"), "--out", str(out), "--device", device, "--outputs", "alpha,cutout", "-q"]
            else:
                args = [*gfm, "evaluate", "--images", str(root / "original"), "--alphas", str(root / "mask"), "--out", str(out),
                        "--device", device, "--no-progress"]
            with util.during() as mean:
                walls[which], text = timed_command(args, logs / f"{command}-{which}.txt", timeout=300)
            if which == "all":
                used = mean()
                found = re.search(r"([\d.]+) images/s", text) or re.search(r"Prediction time: ([\d.]+) s", text)
                printed = found.group(0) if found else ""
        extra = walls["all"] - walls["quarter"]
        marginal = f"{(counts['all'] - counts['quarter']) / extra:.2f}" if extra > 0.05 else "n/a (start-up jitter exceeds the work)"
        report.add(section, f"gfm {command}: photos/s once running", marginal,
                   f"({counts['all']} - {counts['quarter']}) photos / ({walls['all']:.1f} - {walls['quarter']:.1f}) s; "
                   f"it printed '{printed}'; {used} during the run")
        report.write()
    one = report.out / "scratch" / "one"
    seconds, _ = timed_command([*gfm, "matte", str(photos[0]), "--out", str(one), "--device", device, "-q"], logs / "matte-one.txt", 120)
    report.add(section, "gfm matte PHOTO, the whole command (start-up, model load, one photo)", f"{seconds:.2f} s")
    times = []
    for photo in photos[:8]:
        gt = read_alpha(Path(str(photo).replace("/original/", "/mask/")).with_suffix(".png")).astype(np.float64)
        start = time.perf_counter()
        evaluate_alpha(np.clip(gt + 0.01, 0, 1), gt, trimap_from_alpha(gt))
        times.append(time.perf_counter() - start)
    from gfm.cpu import inference_threads

    threads = inference_threads() if device.startswith("cuda") else 1
    report.add(section, "evaluate's metrics (CPU) a photo, one core", ms(statistics.median(times)),
               f"gfm evaluate scores on {threads} thread(s) here: a ceiling of about "
               f"{threads / statistics.median(times):.1f} photos/s if they scale")
    report.write()


def gpu_ceiling(backbone: str, batch_size: int, size: int, device: torch.device, amp: str | None, channels_last: bool, steps: int) -> float:
    """Training samples/s of the network alone: one batch kept on the device, no loader."""
    import gfm
    from gfm.engine.steps import training_loss
    from gfm.losses import GFMLoss
    from gfm.models.normalization import IMAGENET

    model = gfm.create_model(backbone, "TT").to(device).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-5)
    g = torch.Generator().manual_seed(0)
    alpha = torch.rand(batch_size, 1, size, size, generator=g)
    batch = {"image": torch.rand(batch_size, 3, size, size, generator=g), "alpha": alpha,
             "fg": torch.rand(batch_size, 3, size, size, generator=g), "bg": torch.rand(batch_size, 3, size, size, generator=g),
             "glance": torch.randint(0, 3, (batch_size, size, size), generator=g), "focus": alpha.clone(),
             "focus_mask": (torch.rand(batch_size, 1, size, size, generator=g) > 0.3).float()}
    batch = {k: v.to(device) for k, v in batch.items()}
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp or "")
    loss_fn = GFMLoss("TT")
    times = []
    for _ in range(steps + 3):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        training_loss(model, batch, loss_fn, IMAGENET, amp_dtype=dtype)["total"].backward()
        optimizer.step()
        sync(device)
        times.append(time.perf_counter() - start)
    return batch_size / statistics.median(times[3:])


def part_training(report: Report, data: Path, device: str, util: Utilisation, tiny: bool, steps: int, workers: int) -> None:
    """gfm train for r34-TT RSSN and the default model's recipe: samples/s, utilisation, the GPU's ceiling."""
    section = f"3. training (gfm train --device {device})"
    logs = report.out / "logs"
    gfm = [sys.executable, "-m", "gfm.cli.main"]
    photos = sorted((data / "original").iterdir())
    foregrounds = photos[: max(1, len(photos) // 2)][:24]  # the cache is prepared for these only (time)
    data = data.parent / "train"
    for folder in ("original", "mask"):
        (data / folder).mkdir(parents=True, exist_ok=True)
    for photo in foregrounds:
        for folder, suffix in (("original", ".jpg"), ("mask", ".png")):
            target = data / folder / f"{photo.stem}{suffix}"
            if not target.exists():
                os.link(photo.parent.parent / folder / f"{photo.stem}{suffix}", target)
    backgrounds = data.parent / "backgrounds"
    backgrounds.mkdir(exist_ok=True)
    for photo in photos[::-1][:24]:  # photos, the last first, mirrored, as backgrounds (RSSN takes 5 a foreground)
        image = cv2.imread(str(photo))
        cv2.imwrite(str(backgrounds / f"bg_{photo.name}"), cv2.resize(image[:, ::-1], (480, 270) if tiny else (1920, 1080)))
    start = time.perf_counter()
    timed_command([*gfm, "prepare", "foregrounds", str(data), "--method", "ml"], logs / "prepare-foregrounds.txt", 300)
    timed_command([*gfm, "prepare", "denoise", str(data), "--denoiser", "nlm", "--method", "ml"], logs / "prepare-denoise.txt", 300)
    timed_command([*gfm, "prepare", "denoise", str(backgrounds), "--denoiser", "nlm"], logs / "prepare-denoise-bg.txt", 300)
    report.add(section, "preparing the cache (foregrounds ml, NLM denoising; not training)", f"{time.perf_counter() - start:.1f} s")
    report.write()
    small = ["--batch-size", "2", "--set", "data.out_size=64"] if tiny else []
    runs = [
        ("r34-TT, RSSN composites (--preset comp-rssn-r34-tt, NLM)", "r34", 32, 320, None, False,
         ["--preset", "comp-rssn-r34-tt", "--data", str(data), "--backgrounds", str(backgrounds), "--set", "data.denoiser=nlm",
          "--set", "data.foreground_method=ml"]),
        ("default model's recipe config (effl0-TT, bf16, channels-last, ORI)", "effl0", 8, 288, "bf16", True,
         ["--config", str(ROOT / "recipes" / "default-model" / "train.yaml"), "--data", str(data)]),
    ]
    rates: dict[str, float] = {}
    for label, backbone, batch_size, size, amp, channels_last, options in runs:
        run_dir = report.out / "scratch" / f"train-{backbone}"
        shutil.rmtree(run_dir, ignore_errors=True)
        command = [*gfm, "train", *options, "--steps", str(steps), "--out", str(run_dir), "--device", device,
                   "--workers", str(workers), "--no-progress", "--set", "log.log_every=5", "--set", "log.checkpoint_every=100000", *small]
        with util.during() as mean:
            seconds, _ = timed_command(command, logs / f"train-{backbone}.txt", timeout=300)
        records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if '"samples_per_s"' in line]
        values = [r["samples_per_s"] for r in records if r.get("kind") == "train"][1:] or [r["samples_per_s"] for r in records]
        rate = statistics.median(values)
        rates[label] = rate
        report.add(section, f"{label}: samples/s", f"{rate:.1f}",
                   f"median of {len(values)} windows of 5 steps after the first; {mean()}; {workers} loader workers; whole run {seconds:.0f} s")
        alone = "tiny" if tiny else backbone  # --tiny: the tiny network, only to exercise the code
        ceiling = gpu_ceiling(alone, 2 if tiny else batch_size, 64 if tiny else size,
                              torch.device(device), amp, channels_last, 3 if tiny else 15)
        report.add(section, f"{label}: the network alone ({alone}, batch {2 if tiny else batch_size}, one batch kept on the device)",
                   f"{ceiling:.1f}",
                   f"samples/s; {'loader-bound' if rate < 0.8 * ceiling else 'the loader keeps up'} "
                   f"({100 * rate / ceiling:.0f}% of it)")
        report.write()
    for label, rate in rates.items():
        hours = AM2K_SAMPLES / rate / 3600
        report.add(section, f"AM-2k schedule (900,000 samples), {label}", f"{hours:.1f} h on one GPU",
                   f"{hours / 8:.1f} h on eight if each GPU's loader keeps this rate (torchrun, 8 processes)")
    report.write()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="folder for gpu.md, gpu.json, logs/ (and scratch/, removed at the end)")
    parser.add_argument("--photos", type=Path, help="photos with mattes (default: shared/data, /work/shared/data or examples)")
    parser.add_argument("--count", type=int, help="photos made (default 64; --tiny 6)")
    parser.add_argument("--device", help="default cuda (--tiny: cpu)")
    parser.add_argument("--steps", type=int, help="training steps a run (default 40; --tiny 2)")
    parser.add_argument("--workers", type=int, help="loader workers (default: cores - 2, at most 14; --tiny 0)")
    parser.add_argument("--parts", default="library,commands,training", help="which parts, comma-separated")
    parser.add_argument("--tiny", action="store_true", help="a dry run on the CPU: small photos, two training steps of batch 2")
    parser.add_argument("--keep-scratch", action="store_true")
    args = parser.parse_args()
    device = args.device or ("cpu" if args.tiny else "cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run on a GPU machine, or --tiny for a dry run on the CPU")
    count = args.count or (6 if args.tiny else 64)
    steps = args.steps or (2 if args.tiny else 40)
    workers = args.workers if args.workers is not None else (0 if args.tiny else max(0, min(14, (os.cpu_count() or 2) - 2)))
    source = args.photos or next((p for p in (ROOT / "shared" / "data", Path("/work/shared/data")) if p.is_dir()), ROOT / "examples")
    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") else "none (CPU dry run)"
    report = Report(args.out, [
        f"`python {' '.join(sys.argv)}`",
        "",
        f"GPU: {gpu}; {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}); torch {torch.__version__}; "
        f"{count} photos from {source}, widths {'240..400' if args.tiny else '1400..1840'} px; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
    ])
    data = args.out / "scratch" / "data"
    photos = make_photos(source, data, count, (240, 400) if args.tiny else (1400, 1840))
    util = Utilisation()
    parts = {
        "library": lambda: part_library(report, photos, torch.device(device)),
        "commands": lambda: part_commands(report, data, photos, device, util),
        "training": lambda: part_training(report, data, device, util, args.tiny, steps, workers),
    }
    failed = 0
    try:
        for name in args.parts.split(","):
            start = time.perf_counter()
            try:
                parts[name]()
            except Exception as error:  # one part's failure is reported; the others still run
                failed += 1
                report.add(f"failed: {name}", "error", f"{type(error).__name__}", str(error).replace("|", "/")[:300])
                report.write()
            print(f"part {name}: {time.perf_counter() - start:.0f} s", flush=True)
    finally:
        util.close()
        if not args.keep_scratch:
            shutil.rmtree(args.out / "scratch", ignore_errors=True)
    print("\n" + report.markdown())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
