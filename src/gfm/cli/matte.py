"""``gfm matte``: alpha mattes and clean cutouts of photos."""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

from gfm.cli._model_options import add_model_options, build_predictor, load_models, say_models


def register(subparsers: argparse._SubParsersAction) -> None:
    from gfm.inference.batch import OUTPUT_KINDS

    parser = subparsers.add_parser(
        "matte",
        help="cut the foreground out of photos: alpha mattes, cutouts, composites",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Predict the alpha matte of each input photo with GFM and write, for each NAME.EXT,\n"
            "OUT/NAME_alpha.png and OUT/NAME_cutout.png (default), or what --outputs asks for:\n"
            "  alpha       8-bit (or --alpha-bits 16) grayscale PNG, input size and orientation\n"
            "  cutout      RGBA PNG with estimated foreground colours (no colour fringes)\n"
            "  foreground  RGB PNG of the estimated foreground colours\n"
            "  composite   RGB PNG on --background (a colour or an image)\n"
            "  trimap      the glance map: 0 background, 128 transition, 255 foreground\n"
            "  preview     JPEG: image | alpha | cutout on a checkerboard, for a quick look\n"
            "Inputs are files, folders (with -r: recursively, keeping sub-folders) and globs.\n"
            "A file that fails is reported at the end and the exit code is 1; the others are done.\n"
            "Outputs are written atomically: an interrupted run leaves no truncated file."
        ),
        epilog=(
            "examples:\n"
            "  gfm matte photo.jpg --out cutouts/\n"
            "  gfm matte photos/ -r --out mattes/ --outputs alpha,preview --skip-existing\n"
            "  gfm matte 'shots/*.png' --out out/ --outputs composite --background '#00b140'\n"
            "  gfm matte cat.jpg --out out/ --strategy ensemble   # median of the r34 TT, FT, BT models\n"
            "weights: --model takes a name from `gfm weights list` or a checkpoint path. The default,\n"
            "gfm-lite, is shipped with gfm (no download). The paper's checkpoints (e.g. gfm-r34-tt) are\n"
            "downloaded on first use; without internet, register a copy with\n"
            "`gfm weights import FILE --name gfm-r34-tt`."
        ),
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or glob patterns")
    parser.add_argument("--out", "-o", type=Path, required=True, help="output folder (created if needed)")
    parser.add_argument("-r", "--recursive", action="store_true", help="descend into sub-folders of folder inputs")
    parser.add_argument(
        "--outputs",
        default="alpha,cutout",
        help=f"comma-separated outputs among {', '.join(OUTPUT_KINDS)} (default: alpha,cutout)",
    )
    add_model_options(parser)
    parser.add_argument(
        "--foreground",
        default="ml",
        choices=["ml", "cf", "none"],
        help="foreground colour estimation for cutouts and composites: ml (pymatting multi-level, default), "
        "cf (closed form, slow), none (plain image x alpha)",
    )
    parser.add_argument("--background", default="white", help="composite background: colour (white, green, #rrggbb, r,g,b) or image file")
    parser.add_argument("--alpha-bits", type=int, choices=[8, 16], default=8, help="alpha PNG bit depth (default 8)")
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--skip-existing", action="store_true", help="skip images whose requested outputs all exist")
    existing.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _parse_outputs(text: str) -> list[str]:
    from gfm.errors import InputError
    from gfm.inference.batch import OUTPUT_KINDS

    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in OUTPUT_KINDS]
    if unknown or not kinds:
        raise InputError(f"unknown --outputs {', '.join(unknown) or repr(text)}; choose among {', '.join(OUTPUT_KINDS)}")
    return list(dict.fromkeys(kinds))


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from gfm.errors import GFMError
    from gfm.inference.batch import FOREGROUND_KINDS, BatchReport, MatteJob, OutputPipeline, check_writable, collect_jobs
    from gfm.inference.foreground import parse_color
    from gfm.io import read_image

    kinds = _parse_outputs(args.outputs)
    background = parse_color(args.background) if not Path(args.background).is_file() else read_image(args.background)
    jobs, problems = collect_jobs(args.inputs, recursive=args.recursive)
    check_writable(args.out)

    specs, models = load_models(args)
    if not args.quiet:
        say_models(specs, models)
    predictor = build_predictor(args, models)
    del models  # the predictor holds its own (optimised) copies: free the loaded ones

    if jobs and args.foreground != "none" and any(k in kinds for k in FOREGROUND_KINDS):
        from gfm.data.foreground import load_pymatting

        def say_why() -> None:
            if not args.quiet:
                print("gfm matte: preparing pymatting's foreground estimation (numba compiles it once after "
                      "installation: up to a minute)...", file=sys.stderr, flush=True)

        load_pymatting(on_slow=say_why)
    report = BatchReport(failures=list(problems))
    dropped_alpha = 0
    start = time.perf_counter()
    bar = tqdm(jobs, unit="img", disable=args.quiet or not jobs, dynamic_ncols=True)

    def failed(job: MatteJob, error: BaseException) -> None:
        report.failures.append(f"{job.source}: {error}" if str(job.source) not in str(error) else str(error))

    def done(job: MatteJob) -> None:
        report.done += 1

    # Image k's outputs are written on a worker thread while image k + 1 is predicted.
    with OutputPipeline(done, failed, threaded=len(jobs) > 1) as pipeline:
        for job in bar:
            targets = [job.output(args.out, kind) for kind in kinds]
            existing = [t for t in targets if t.exists()]
            if existing and args.skip_existing and len(existing) == len(targets):
                report.skipped += 1
                continue
            if existing and not args.overwrite and not args.skip_existing:
                report.failures.append(f"{job.source}: {existing[0]} already exists; pass --overwrite or --skip-existing")
                continue
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    image = read_image(job.source)
                dropped_alpha += any("alpha" in str(w.message).lower() for w in caught)
                result = predictor.predict(image, trimap="trimap" in kinds)
            except (GFMError, OSError, MemoryError) as error:
                failed(job, error)
                continue
            pipeline.submit(job, args.out, kinds, image, result.alpha, result.trimap, args.foreground, background, args.alpha_bits)
    bar.close()

    elapsed = time.perf_counter() - start
    rate = f", {report.done / elapsed:.2f} images/s" if report.done and elapsed > 0 else ""
    if dropped_alpha:
        print(f"note: {dropped_alpha} input(s) had an alpha channel; it was ignored (the photo's colours were used)", file=sys.stderr)
    print(f"{report.done} matted, {report.skipped} skipped, {len(report.failures)} failed -> {args.out}{rate}", file=sys.stderr)
    for line in report.failures:
        print(f"  failed: {line}", file=sys.stderr)
    return 1 if report.failures else 0
