"""The bundled default model (GFM-Lite) against r34-TT: file in, alpha and cutout out.

    python benchmarks/default_model.py                  # 1620x1080, hybrid and single, median of 5
    python benchmarks/default_model.py --folder 8       # also gfm matte on a folder of 8 photos: images/s
    python benchmarks/default_model.py --memory         # also peak RSS of one gfm matte run per model
    python benchmarks/default_model.py --teacher WORK/extract/teacher/isnet-medium.onnx   # also the ISNet teacher

GFM-Lite runs with its shipped weights. r34-TT runs with random weights and,
as in ``benchmarks/matte.py``, the glance classes of the example's reference
matte, so that its focus heads cost what they cost on a real photo (the
released checkpoint's time). Every case writes alpha.png and cutout.png
(multi-level foreground colours) like ``gfm matte``'s default; cases take
turns (round robin) so that this shared machine's slow spells hit them alike.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gfm  # noqa: E402
from gfm.inference import Predictor  # noqa: E402
from gfm.inference.models import load_model_spec  # noqa: E402
from matte import make_photo, ours_once, timed_interleaved, use_reference_glance  # noqa: E402


def teacher_once(teacher: object, photo: Path, out: Path) -> None:
    """The alternative users pick (rembg's isnet-general-use is the same network): mask only."""
    from gfm.io import read_image, write_alpha

    write_alpha(out / "teacher_alpha.png", teacher.predict(read_image(photo)))  # type: ignore[attr-defined]


def speed(args: argparse.Namespace, photo: Path, out: Path) -> None:
    lite = load_model_spec("gfm-lite")
    r34 = gfm.create_model("r34", "TT").eval()
    predictors = {
        "gfm-lite, hybrid": Predictor(lite, strategy="hybrid", device="cpu"),
        "gfm-lite, single": Predictor(lite, strategy="single", device="cpu"),
        "gfm-lite, hybrid, bf16": Predictor(lite, strategy="hybrid", device="cpu", precision="bf16"),
        "r34-TT, hybrid": Predictor(r34, strategy="hybrid", device="cpu"),
        "r34-TT, single": Predictor(r34, strategy="single", device="cpu"),
    }
    for name, predictor in predictors.items():
        if name.startswith("r34"):
            use_reference_glance(predictor)
    cases = {name: (lambda p=p: ours_once(p, photo, out, "ml")) for name, p in predictors.items()}
    if args.teacher:
        from gfm.data.teacher import OnnxTeacher

        teacher = OnnxTeacher(args.teacher, threads=torch.get_num_threads())
        cases["ISNet teacher (onnxruntime), mask only"] = lambda: teacher_once(teacher, photo, out)
    print(f"1620x1080 photo, alpha + cutout (ml foreground) file to file, threads={torch.get_num_threads()}, "
          f"median of {args.repeats}, interleaved")
    results = timed_interleaved(cases, args.repeats)
    width = max(map(len, results))
    for name, seconds in results.items():
        print(f"  {name:<{width}}  {seconds:.3f} s")
    print(f"  r34-TT / gfm-lite (hybrid): {results['r34-TT, hybrid'] / results['gfm-lite, hybrid']:.1f}x")


def folder(args: argparse.Namespace, tmp: Path) -> None:
    photos = tmp / "photos"
    photos.mkdir()
    for i in range(args.folder):
        make_photo(photos, 1620, 1080, f"photo{i}.jpg")
    out = tmp / "folder-out"
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "gfm.cli.main", "matte", str(photos), "--out", str(out), "-q"],
                            check=True, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    running = result.stderr.strip().splitlines()[-1].rsplit(", ", 1)[-1]
    print(f"gfm matte (gfm-lite, hybrid, alpha + cutout), {args.folder} photos 1620x1080: {running} once running, "
          f"{args.folder / elapsed:.2f} images/s including start-up")


def memory(tmp: Path, photo: Path) -> None:
    r34 = gfm.save_checkpoint(gfm.create_model("r34", "TT"), tmp / "r34.pth")
    probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    for name, model in (("gfm-lite", []), ("r34-TT", ["--model", str(r34)])):
        command = [sys.executable, "-m", "gfm.cli.main", "matte", str(photo), "--out", str(tmp / f"mem-{name}"), "-q", *model]
        peak_kb = int(subprocess.run([sys.executable, "-c", probe, *command], check=True, capture_output=True, text=True).stdout)
        print(f"gfm matte, one 1620x1080 photo, {name}: peak RSS {peak_kb / 1024:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--folder", type=int, default=0, help="also time gfm matte on a folder of N photos")
    parser.add_argument("--memory", action="store_true", help="also measure peak memory per model")
    parser.add_argument("--teacher", type=Path, help="also time this ONNX teacher (ISNet) on the photo")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        photo = make_photo(tmp, 1620, 1080)
        out = tmp / "out"
        out.mkdir()
        speed(args, photo, out)
        if args.folder:
            folder(args, tmp)
        if args.memory:
            memory(tmp, photo)


if __name__ == "__main__":
    main()
