"""Where the time of a cutout goes, for every way of running it, side by side in one run.

    python benchmarks/speed.py                          # 1620x1080 photo, 2 threads, median of 5
    python benchmarks/speed.py --teacher isnet.onnx     # also the ISNet model users pick instead (onnxruntime)
    python benchmarks/speed.py --guide isnet.onnx --rembg-site DIR   # gfm-lite guided by ISNet, and rembg itself
    python benchmarks/speed.py --quality HELD/original HELD/mask   # quality on other reference photos
    python benchmarks/speed.py --startup --folder 8     # also start-up of `gfm matte` and a folder's images/s

Each case turns a 1620x1080 JPEG (examples/original/sample6.jpg, resized) into
alpha.png and cutout.png like ``gfm matte``'s default outputs, in steps:
decode, network (the strategy's passes and the fusion), foreground colours,
PNG writes. Cases take turns (round robin) so that a slow spell of a shared
machine hits them alike; the medians are printed with the machine.

Cases:

* ``gfm-lite``: the bundled default model with the defaults ``gfm matte``
  uses (its measured strategy, ``--precision auto``, the default foreground
  method), then at fp32 and bf16 explicitly, the old defaults (hybrid, fp32,
  pymatting's multi-level foreground) and, when onnxruntime and onnx are
  installed, the same network exported to ONNX (fp32 and dynamic int8);
* ``r34-TT``: the paper's network (random weights with the reference matte's
  glance classes, so its focus heads cost what they cost on a real photo:
  see benchmarks/matte.py), hybrid, fp32, which is what ``--precision auto``
  picks for weights without bf16 measurements;
* ``ISNet`` (``--teacher FILE.onnx``, onnxruntime): the salient-object model
  of rembg's ``isnet-general-use``; its cutout is image x mask, as rembg's.
* ``gfm-lite + guide`` (``--guide FILE.onnx``): ``gfm matte`` with the ISNet guide
  cached (its defaults: the guided strategy); "network" is the guide and GFM;
* ``rembg`` and ``rembg -a`` (``--guide`` and rembg importable, see
  ``rembg_baseline.py``): rembg's own pipeline on the same ISNet file, its
  foreground colours included in "network" (``-a``: closed-form matting).

Quality: SAD / MSE against the reference mattes of photos no model trained on
(by default the README's three examples; ``--quality`` for the recipe's
held-out set). r34-TT has random weights here, so it gets no quality figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gfm  # noqa: E402
from gfm.data.layouts import IMAGE_SUFFIXES  # noqa: E402
from gfm.inference import Predictor  # noqa: E402
from gfm.inference.foreground import DEFAULT_FOREGROUND, cutout, estimate_foreground  # noqa: E402
from gfm.inference.models import load_model_spec  # noqa: E402
from gfm.io import read_alpha, read_image, write_alpha, write_image  # noqa: E402
from gfm.metrics import mse, sad  # noqa: E402
from machine import cpu_name  # noqa: E402
from matte import make_photo, use_reference_glance  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("decode", "network", "foreground", "write")


@dataclass
class Case:
    """One way of making a cutout: ``predict(image) -> alpha`` and a foreground method."""

    name: str
    predict: Callable[[np.ndarray], np.ndarray]
    foreground: str
    rated: bool = True  # real weights: quality is measured
    times: dict[str, list[float]] = field(default_factory=lambda: {step: [] for step in STEPS})

    def once(self, photo: Path, out: Path) -> None:
        marks = [time.perf_counter()]
        image = read_image(photo)
        marks.append(time.perf_counter())
        alpha = self.predict(image)
        marks.append(time.perf_counter())
        colours = estimate_foreground(image, alpha, self.foreground)
        marks.append(time.perf_counter())
        write_alpha(out / "alpha.png", alpha)
        write_image(out / "cutout.png", cutout(colours, alpha))
        marks.append(time.perf_counter())
        for step, start, end in zip(STEPS, marks, marks[1:]):
            self.times[step].append(end - start)


def predictor_case(name: str, predictor: Predictor, foreground: str = DEFAULT_FOREGROUND, rated: bool = True) -> Case:
    label = f"{name} ({predictor.strategy.name}, {predictor.precision}, {foreground})"
    return Case(label, lambda image: predictor.predict(image).alpha, foreground, rated)


def onnx_cases(tmp: Path, lite: gfm.GFM) -> list[Case]:
    """gfm-lite exported to ONNX, fp32 and int8, run by onnxruntime (skipped without onnx/onnxruntime)."""
    try:
        from gfm.inference.onnx_runtime import OnnxPredictor
        from gfm.inference.onnx_export import export_onnx
    except ImportError as error:
        print(f"(ONNX cases skipped: {error})")
        return []
    cases = []
    for quantize in ("none", "int8"):
        path = tmp / f"gfm-lite-{quantize}.onnx"
        export_onnx(lite, path, model_name="gfm-lite", quantize=quantize)
        predictor = OnnxPredictor(path, threads=torch.get_num_threads())
        label = "fp32" if quantize == "none" else quantize
        cases.append(Case(f"gfm-lite ONNX {label} ({predictor.strategy.name}, onnxruntime, {DEFAULT_FOREGROUND})",
                          lambda image, p=predictor: p.predict(image).alpha, DEFAULT_FOREGROUND))
    return cases


def teacher_case(path: Path) -> Case:
    from gfm.data.teacher import OnnxTeacher

    teacher = OnnxTeacher(path, threads=torch.get_num_threads())
    return Case("ISNet (onnxruntime), cutout = image x mask", teacher.predict, "none")  # type: ignore[attr-defined]


def guide_cases(guide_file: Path, lite: gfm.GFM, rembg_site: Path | None, home: Path) -> list[Case]:
    """gfm-lite guided by ISNet; rembg on the same file (when importable)."""
    from gfm.inference.guide import load_guide
    from rembg_baseline import load_rembg

    guide = load_guide(guide_file, threads=torch.get_num_threads())
    cases = [predictor_case("gfm-lite + ISNet guide", Predictor(lite, device="cpu", guide=guide))]
    rembg = load_rembg(rembg_site, guide_file, home)
    if rembg is not None:
        cases.append(Case("rembg (same ISNet), naive cutout", lambda image: rembg(image, False), "none"))
        cases.append(Case("rembg -a (same ISNet, closed-form matting)", lambda image: rembg(image, True), "none"))
    return cases


def quality(case: Case, pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, float]:
    sads, mses = [], []
    for image, reference in pairs:
        alpha = case.predict(image)
        sads.append(sad(alpha, reference))
        mses.append(mse(alpha, reference))
    return float(np.mean(sads)), float(np.mean(mses))


def startup(photo: Path, tmp: Path, repeats: int, guide: str = "none", threads: int = 2) -> float:
    """Median seconds from `gfm matte PHOTO --guide GUIDE --threads N` to its exit (outputs written), warm caches.

    ``--threads`` is given: without it gfm counts the cores other processes leave free by the
    load average, which this benchmark's own earlier cases raise (ISNet then ran on one thread)."""
    times = []
    for i in range(repeats + 1):
        out = tmp / f"startup{i}"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "gfm.cli.main", "matte", str(photo), "--out", str(out), "-q", "--guide", guide,
                        "--threads", str(threads)], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])  # the first run warms the file cache


def folder_rate(photo: Path, tmp: Path, count: int, guide: str = "none", threads: int = 2) -> tuple[float, float]:
    """(images/s once running, images/s including start-up) of `gfm matte FOLDER --guide GUIDE --threads N`."""
    photos = tmp / f"folder-{Path(guide).stem}"
    photos.mkdir()
    for i in range(count):
        os.link(photo, photos / f"photo{i}.jpg")
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "gfm.cli.main", "matte", str(photos), "--out", str(tmp / f"{photos.name}-out"),
                             "--guide", guide, "--threads", str(threads)], check=True, capture_output=True, text=True)
    whole = time.perf_counter() - start
    running = float(result.stderr.rsplit(", ", 1)[-1].split()[0])  # "... -> OUT, 2.31 images/s"
    return running, count / whole


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--teacher", type=Path, help="ISNet ONNX file (the recipe's WORK/extract/teacher/isnet-medium.onnx)")
    parser.add_argument("--guide", type=Path, help="ISNet ONNX file as gfm-lite's guide (and rembg's model)")
    parser.add_argument("--rembg-site", type=Path, help="a folder rembg was pip-installed into (--target), for the rembg cases")
    parser.add_argument("--quality", nargs=2, type=Path, metavar=("IMAGES", "ALPHAS"),
                        default=(ROOT / "examples/original", ROOT / "examples/mask"))
    parser.add_argument("--startup", action="store_true", help="also time `gfm matte PHOTO` in a fresh process")
    parser.add_argument("--folder", type=int, default=0, metavar="N", help="also `gfm matte` on a folder of N photos")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # the child processes of --startup / --folder

    lite = load_model_spec("gfm-lite")
    r34 = gfm.create_model("r34", "TT").eval()
    r34_predictor = Predictor(r34, device="cpu")
    use_reference_glance(r34_predictor)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        cases = [
            predictor_case("gfm-lite defaults", Predictor(lite, device="cpu")),
            predictor_case("gfm-lite", Predictor(lite, device="cpu", precision="fp32")),
            predictor_case("gfm-lite", Predictor(lite, device="cpu", precision="bf16")),
            predictor_case("gfm-lite old defaults", Predictor(lite, "hybrid", device="cpu", precision="fp32"), "ml"),
            *onnx_cases(tmp, lite),
            predictor_case("r34-TT", r34_predictor, rated=False),
        ]
        if args.teacher:
            cases.append(teacher_case(args.teacher))
        if args.guide:
            (tmp / "rembg").mkdir()
            cases += guide_cases(args.guide, lite, args.rembg_site, tmp / "rembg")
        photo = make_photo(tmp, 1620, 1080)
        out = tmp / "out"
        out.mkdir()
        for case in cases:
            case.once(photo, out)  # warm-up: oneDNN primitives, JIT, file cache
            case.times = {step: [] for step in STEPS}
        for _ in range(args.repeats):
            for case in cases:
                case.once(photo, out)

        images, alphas = args.quality
        pairs = [(read_image(p), read_alpha(next(alphas.glob(p.stem + ".*"))))
                 for p in sorted(images.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
        print(f"python {' '.join(sys.argv)}")
        print(f"{cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}, {args.threads} threads; "
              f"1620x1080 photo to alpha.png + cutout.png; median of {args.repeats}, cases interleaved")
        print(f"quality: mean SAD / MSE on {len(pairs)} photos of {images} with reference mattes\n")
        print("| case | decode | network | foreground | write | total (s) | SAD | MSE |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for case in cases:
            medians = {step: statistics.median(values) for step, values in case.times.items()}
            total = statistics.median([sum(parts) for parts in zip(*case.times.values())])
            sad_mean, mse_mean = quality(case, pairs) if case.rated else (float("nan"), float("nan"))
            steps = " | ".join(f"{medians[s] * 1000:.0f} ms" for s in STEPS)
            rated = f"{sad_mean:.2f} | {mse_mean:.4f}" if case.rated else "n/a (random weights) | n/a"
            print(f"| {case.name} | {steps} | {total:.3f} | {rated} |")
        guides = ["none"] + ([str(args.guide)] if args.guide else [])
        for guide in guides if args.startup else []:
            print(f"\nstart-up, `gfm matte photo.jpg --out DIR --guide {guide} --threads {args.threads}` in a fresh process to its exit: "
                  f"{startup(photo, tmp, 3, guide, args.threads):.2f} s (median of 3)")
        for guide in guides if args.folder else []:
            running, whole = folder_rate(photo, tmp, args.folder, guide, args.threads)
            print(f"`gfm matte --guide {guide}` on a folder of {args.folder} such photos: {running:.2f} images/s once running, "
                  f"{whole:.2f} with start-up")
    return 0


if __name__ == "__main__":
    sys.exit(main())
