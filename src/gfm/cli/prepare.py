"""``gfm prepare foregrounds|denoise|backgrounds``: precompute what training reads.

* ``foregrounds ROOT``: F and B of every sample of a matting dataset
  (closed form by default) into ``ROOT/gfm-cache``;
* ``denoise ROOT``: BM3D (or ``--denoiser nlm``) of the cached foregrounds of a
  matting dataset, or of every image of a background set;
* ``backgrounds SRC DST``: a BG-20k-style set from a photo collection;
* ``teacher IMAGES OUT --model M.onnx``: masks of real photos from an ONNX
  segmentation model (a teacher), as ``OUT/NAME.png`` mattes.

The first two are resumable (finished files are skipped) and use several
worker processes; a file that fails is reported and skipped, and the exit code
is then 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from gfm.cli._arguments import add_progress_option, number, positive_float, positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("prepare", help="precompute foregrounds, denoised images, background sets")
    sub = parser.add_subparsers(dest="prepare_command", metavar="WHAT")
    sub.required = True

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("root", help="dataset folder")
        p.add_argument("--split", help="split (AM-2k: train|validation; P3M: train|P3M-500-P|P3M-500-NP; "
                       "BG-20k: train|testval); default: train")
        p.add_argument("--cache-dir", type=Path, help="cache folder (default: ROOT/gfm-cache)")
        p.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1, help="worker processes (default: all cores)")
        p.add_argument("--force", action="store_true", help="recompute files already in the cache")
        add_progress_option(p)

    fg = sub.add_parser("foregrounds", help="estimate foreground/background colours of a matting dataset",
                        description="Estimate F and B of every image of a matting dataset into the cache. The time it "
                        "will take is estimated and printed first.")
    common(fg)
    fg.add_argument("--method", choices=("cf", "ml", "fast"), default="cf",
                    help="cf: closed form of Levin et al. (the paper, default); ml: multi-level, much faster; fast: the "
                    "multi-level energy on the transition band (what gfm matte uses), faster still")
    fg.set_defaults(func=run_foregrounds)

    dn = sub.add_parser(
        "denoise",
        help="denoise cached foregrounds or a background set",
        description=(
            "Denoise the cached foregrounds of a matting dataset (run `gfm prepare foregrounds` first) "
            "or every image of a background set (BG-20k, COCO, any folder of images). "
            "--denoiser nlm (OpenCV non-local means) is tens of times faster than BM3D but is a "
            "deviation from the paper."
        ),
    )
    common(dn)
    dn.add_argument("--denoiser", choices=("bm3d", "nlm"), default="bm3d", help="default: bm3d (the paper)")
    dn.add_argument("--method", choices=("cf", "ml", "fast"), default="cf", help="which cached foregrounds (matting datasets; default cf)")
    dn.set_defaults(func=run_denoise)

    bg = sub.add_parser(
        "backgrounds",
        help="build a BG-20k-style background set from a photo collection",
        description=(
            "Keep images whose shorter side is at least --min-side, resize them to a --side shorter side, "
            "drop exact and near duplicates (perceptual hash), write DST/report.json. Salient-object "
            "rejection is not done: look through the result."
        ),
    )
    bg.add_argument("src", help="folder of photos (searched recursively)")
    bg.add_argument("dst", help="output folder")
    bg.add_argument("--min-side", type=positive_int, default=1080, help="minimum shorter side in px (default 1080)")
    bg.add_argument("--side", type=positive_int, default=1080, help="shorter side of written images (default 1080)")
    bg.add_argument("--threshold", type=number(int, minimum=0, maximum=64), default=6,
                    help="near-duplicate: perceptual hashes within this many bits of 64 (default 6; 0: exact only)")
    add_progress_option(bg)
    bg.set_defaults(func=run_backgrounds)

    te = sub.add_parser(
        "teacher",
        help="label real photos with an ONNX segmentation model (teacher masks)",
        description=(
            "Run an ONNX segmentation model with one (1, 3, S, S) RGB input and a (1, 1, S, S) output in "
            "[0, 1] (e.g. ISNet) on every image of IMAGES and write OUT/NAME.png, at the photo's size, so "
            "that IMAGES and OUT form an image/alpha folder pair for `gfm train` and `gfm evaluate`. "
            "Resumable: masks already in OUT are kept (--force recomputes). Needs onnxruntime "
            '(pip install "gfm-matting[teacher]").'
        ),
    )
    te.add_argument("images", help="an image file or a folder of images")
    te.add_argument("out", help="output folder of masks")
    te.add_argument("--model", required=True, help="the teacher's .onnx file")
    te.add_argument("--size", type=number(int, minimum=1, maximum=16384), default=1024, help="the model's square input side (default 1024, ISNet)")
    te.add_argument("--mean", type=number(float), nargs="+", default=[0.5],
                    help="input mean on [0, 1] RGB, one value or three (default 0.5, ISNet)")
    te.add_argument("--std", type=positive_float, nargs="+", default=[1.0],
                    help="input standard deviation, one value or three (default 1.0, ISNet)")
    te.add_argument("-r", "--recursive", action="store_true", help="search folders recursively")
    te.add_argument("--threads", type=positive_int, help="onnxruntime threads (default: onnxruntime's choice)")
    te.add_argument("--force", action="store_true", help="recompute masks already in OUT")
    add_progress_option(te)
    te.set_defaults(func=run_teacher)


def _cache(args: argparse.Namespace):  # noqa: ANN202
    from gfm.data.cache import Cache, default_cache_dir

    return Cache(args.cache_dir or default_cache_dir(args.root))


def _finish(report, what: str) -> int:  # noqa: ANN001
    print(f"{what}: {report.done} computed, {report.skipped} already cached, {len(report.failed)} failed",
          file=sys.stderr)
    if report.failed:
        for path, reason in report.failed:
            print(f"failed: {reason}" if str(path) in reason else f"failed: {path}: {reason}")
        return 1
    return 0


def run_foregrounds(args: argparse.Namespace) -> int:
    from gfm.data.layouts import matting_split
    from gfm.data.prepare import foreground_tasks, run_tasks

    split = matting_split(args.root, args.split)
    for problem in split.problems:
        print(f"skipped: {problem.message}")
    tasks = foreground_tasks(split.samples, _cache(args), args.method)
    from gfm.data.workload import SAMPLED_HEADERS, Workload, advice, megapixels

    todo = [t.image for t in tasks if args.force or not (t.fg_out.is_file() and t.bg_out.is_file())]
    work = Workload()
    work.add("foregrounds", len(todo), megapixels(todo, SAMPLED_HEADERS), args.method)
    if work.rows:  # said before it starts: the closed form takes seconds a megapixel
        tips = advice(work, args.method, None, "--method")
        print(f"gfm prepare foregrounds: {work.describe(min(args.workers, len(todo)))} on this kind of CPU with "
              f"{min(args.workers, len(todo))} worker(s){'; ' + tips if tips else ''}", file=sys.stderr, flush=True)
    report = run_tasks(tasks, workers=args.workers, force=args.force, progress=not args.no_progress,
                       desc=f"foregrounds ({args.method})")
    code = _finish(report, f"{split.name} foregrounds")
    return 1 if split.problems else code


def run_denoise(args: argparse.Namespace) -> int:
    from gfm.data.layouts import background_split, detect_layout, matting_split
    from gfm.data.prepare import denoise_foreground_tasks, denoise_image_tasks, run_tasks

    layout = detect_layout(args.root)
    cache = _cache(args)
    if layout in ("am2k", "p3m", "pairs"):
        split = matting_split(args.root, args.split, layout)
        tasks = denoise_foreground_tasks(split.samples, cache, args.method, args.denoiser)
        name = f"{split.name} foregrounds"
    else:
        images = background_split(args.root, args.split, layout).require_nonempty()
        tasks = denoise_image_tasks(images, cache, args.denoiser)
        name = images.name
    report = run_tasks(tasks, workers=args.workers, force=args.force, progress=not args.no_progress,
                       desc=f"denoise ({args.denoiser})")
    return _finish(report, f"{name} denoised")


def run_backgrounds(args: argparse.Namespace) -> int:
    from gfm.data.backgrounds import prepare_backgrounds

    report = prepare_backgrounds(args.src, args.dst, min_side=args.min_side, side=args.side,
                                 threshold=args.threshold, progress=not args.no_progress)
    for source, reason, detail in report.dropped:
        print(f"dropped ({reason}): {source}: {detail}")
    counts = ", ".join(f"{n} {k}" for k, n in report.counts().items())
    print(f"{args.dst}: {counts}; details in {Path(args.dst) / 'report.json'}", file=sys.stderr)
    unreadable = sum(1 for _, r, _ in report.dropped if r == "unreadable")
    return 1 if unreadable else 0


def run_teacher(args: argparse.Namespace) -> int:
    from gfm.data.layouts import list_images
    from gfm.data.teacher import OnnxTeacher, label_images
    from gfm.errors import ConfigError

    source = Path(args.images)
    if source.is_dir():
        images = list_images(source, recursive=args.recursive)
    elif source.is_file():
        images = [source]
    else:
        raise ConfigError(f"{source}: no such image or folder")
    if not images:
        raise ConfigError(f"{source}: no images found (use -r for sub-folders)")
    for name, values in (("--mean", args.mean), ("--std", args.std)):
        if len(values) not in (1, 3):
            raise ConfigError(f"{name} takes one value or three (R G B), got {len(values)}")
    teacher = OnnxTeacher(args.model, size=args.size, mean=args.mean, std=args.std, threads=args.threads)
    report = label_images(images, args.out, teacher, force=args.force, progress=not args.no_progress)
    print(f"{args.out}: {len(report.written)} masks written, {len(report.skipped)} already there, "
          f"{len(report.failed)} failed", file=sys.stderr)
    for path, reason in report.failed:
        print(f"failed: {path}: {reason}")
    return 1 if report.failed else 0
