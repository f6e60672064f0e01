"""``gfm matte``: alpha mattes and clean cutouts of photos."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from gfm.cli._arguments import add_progress_option
from gfm.cli._model_options import add_model_options, build_predictor, load_models

if TYPE_CHECKING:
    from gfm.inference.batch import MatteJob


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
            "One input and -o FILE (cutout.png; '-' for standard output) write that one file: the\n"
            "cutout, or the one kind --outputs names; '-' as input reads an image from standard input.\n"
            "A file that fails is reported at the end and the exit code is 1; the others are done.\n"
            "Outputs are written atomically: an interrupted run leaves no truncated file."
        ),
        epilog=(
            "examples:\n"
            "  gfm matte photo.jpg --out cutouts/\n"
            "  gfm matte photo.jpg -o cutout.png\n"
            "  cat photo.jpg | gfm matte - -o - --outputs alpha > mask.png\n"
            "  gfm matte photos/ -r --out mattes/ --outputs alpha,preview --skip-existing\n"
            "  gfm matte 'shots/*.png' --out out/ --outputs composite --background '#00b140'\n"
            "  gfm matte cat.jpg --out out/ --strategy ensemble   # median of the r34 TT, FT, BT models\n"
            "weights: --model takes a name from `gfm weights list` (default gfm-r34-tt, the released\n"
            "GFM(r)-TT; fetch it with `gfm weights download gfm-r34-tt` or register a copy with\n"
            "`gfm weights import FILE --name gfm-r34-tt`) or a checkpoint path."
        ),
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or glob patterns")
    parser.add_argument("--out", "-o", type=Path, required=True,
                        help="output folder (created if needed); or, for one input, an output file such as cutout.png "
                        "('-': standard output)")
    parser.add_argument("-r", "--recursive", action="store_true", help="descend into sub-folders of folder inputs")
    parser.add_argument(
        "--outputs",
        help=f"comma-separated outputs among {', '.join(OUTPUT_KINDS)} (default: alpha,cutout; "
        "with -o FILE one of them, default cutout)",
    )
    add_model_options(parser)
    parser.add_argument(
        "--foreground",
        default="ml",
        choices=["ml", "cf", "none"],
        help="foreground colour estimation for cutouts and composites: ml (pymatting multi-level, default), "
        "cf (closed form, slow), none (plain image x alpha)",
    )
    parser.add_argument("--background", help="composite background: colour (white, green, #rrggbb, r,g,b) or image file (default white)")
    parser.add_argument("--alpha-bits", type=int, choices=[8, 16], default=8, help="alpha PNG bit depth (default 8)")
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--skip-existing", action="store_true", help="skip images whose requested outputs all exist")
    existing.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    add_progress_option(parser, dest="quiet")
    parser.set_defaults(func=run)


def _parse_outputs(text: str) -> list[str]:
    from gfm.errors import InputError
    from gfm.inference.batch import OUTPUT_KINDS

    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in OUTPUT_KINDS]
    if unknown or not kinds:
        raise InputError(f"unknown --outputs {', '.join(unknown) or repr(text)}; choose among {', '.join(OUTPUT_KINDS)}")
    return list(dict.fromkeys(kinds))


def _single_file_job(out: Path, kinds: list[str], jobs: list[MatteJob], problems: list[str], scratch: Path | None) -> list[MatteJob]:
    """``-o FILE`` (or ``-o -``): the one job, writing its one output to that file
    (for standard output: to ``scratch``, copied to stdout when done)."""
    from gfm.errors import InputError
    from gfm.inference.batch import check_single_file_output, stdout_suffix

    if len(kinds) != 1:
        raise InputError(f"-o {out} writes one file; choose one output with --outputs (e.g. --outputs alpha -o mask.png), "
                         "or give an output folder for several")
    check_single_file_output(out, kinds[0])
    if len(jobs) + len(problems) > 1:
        raise InputError(f"-o {out} writes one file, but the inputs name {len(jobs)} images; give an output folder (-o DIR/) instead")
    target = scratch / f"stdout{stdout_suffix(kinds[0])}" if scratch is not None else out
    return [dataclasses.replace(job, target=target) for job in jobs]


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from gfm.errors import GFMError
    from gfm.inference.batch import (
        FOREGROUND_KINDS,
        STDIO,
        BatchReport,
        MatteJob,
        OutputPipeline,
        check_writable,
        collect_jobs,
        is_single_file_output,
    )
    from gfm.inference.foreground import parse_color
    from gfm.io import decode_image, read_image

    single_file = is_single_file_output(args.out)
    kinds = _parse_outputs(args.outputs or ("cutout" if single_file else "alpha,cutout"))
    background_text = args.background or "white"
    background = parse_color(background_text) if not Path(background_text).is_file() else read_image(background_text)
    if args.background and "composite" not in kinds:
        print(f"gfm matte: note: --background is used by the composite output only; add it with --outputs {','.join(kinds)},composite",
              file=sys.stderr)
    jobs, problems = collect_jobs(args.inputs, recursive=args.recursive)
    scratch = tempfile.TemporaryDirectory(prefix="gfm-matte-") if str(args.out) == STDIO else None
    if single_file:
        jobs = _single_file_job(args.out, kinds, jobs, problems, Path(scratch.name) if scratch else None)
        if jobs:
            check_writable(jobs[0].target.parent)  # type: ignore[union-attr]
    else:
        check_writable(args.out)

    _, models = load_models(args)
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
        report.failures.append(f"{job.source}: {error}" if str(job.source) not in str(error) and not job.from_stdin else str(error))

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
                    image = decode_image(sys.stdin.buffer.read(), "<stdin>") if job.from_stdin else read_image(job.source)
                dropped_alpha += any("alpha" in str(w.message).lower() for w in caught)
                result = predictor.predict(image, trimap="trimap" in kinds)
            except (GFMError, OSError, MemoryError) as error:
                failed(job, error)
                continue
            pipeline.submit(job, args.out, kinds, image, result.alpha, result.trimap, args.foreground, background, args.alpha_bits)
    bar.close()

    if scratch is not None:  # -o -: the one file goes to standard output, the messages to stderr
        if report.done:
            sys.stdout.buffer.write(jobs[0].target.read_bytes())  # type: ignore[union-attr]
            sys.stdout.buffer.flush()
        scratch.cleanup()
    elapsed = time.perf_counter() - start
    rate = f", {report.done / elapsed:.2f} images/s" if report.done and elapsed > 0 else ""
    if dropped_alpha:
        print(f"note: {dropped_alpha} input(s) had an alpha channel; it was ignored (the photo's colours were used)", file=sys.stderr)
    print(f"{report.done} matted, {report.skipped} skipped, {len(report.failures)} failed -> {args.out}{rate}", file=sys.stderr)
    for line in report.failures:
        print(f"  failed: {line}", file=sys.stderr)
    return 1 if report.failures else 0
