"""``gfm matte``: alpha mattes and clean cutouts of photos."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from gfm.cli import _fast_start
from gfm.cli._arguments import add_progress_option
from gfm.cli._model_options import (
    add_model_options,
    build_onnx_predictor,
    build_predictor,
    load_guide_option,
    load_models,
    onnx_specs,
    say_guide,
    say_models,
)
from gfm.cli._output_format import add_format_options, image_format, parse_outputs, with_format
from gfm.cli._sharding import merge_reports, take_share, under_torchrun

if TYPE_CHECKING:
    from gfm.inference.batch import MatteJob
    from gfm.inference.pipeline import LoadedImage


def register(subparsers: argparse._SubParsersAction) -> None:
    from gfm.inference.batch import OUTPUT_KINDS
    from gfm.inference.foreground import DEFAULT_FOREGROUND, FOREGROUND_METHODS

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
            "Outputs are written atomically: an interrupted run leaves no truncated file, and a\n"
            "failed image leaves none of its outputs.\n"
            "Existing files (-o FILE too): outputs are marked (PNG text / JPEG comment 'gfm matte');\n"
            "a rerun replaces the outputs of earlier runs, any other file only with --overwrite. Files\n"
            "that appear while the run works (another run) are never replaced but reported.\n"
            "Inputs are never overwritten, and earlier outputs are never taken as inputs."
        ),
        epilog=(
            "examples:\n"
            "  gfm matte photo.jpg --out cutouts/\n"
            "  gfm matte photo.jpg -o cutout.png\n"
            "  cat photo.jpg | gfm matte - -o - --outputs alpha > mask.png\n"
            "  gfm matte photos/ -r --out mattes/ --outputs alpha,preview --skip-existing\n"
            "  gfm matte 'shots/*.png' --out out/ --outputs composite --background '#00b140'\n"
            "  gfm matte cat.jpg --out out/ --strategy ensemble   # median of the r34 TT, FT, BT models\n"
            "  gfm matte cat.jpg --out out/ --hint cat_trimap.png  # guided: a trimap or painted hints\n"
            "  gfm matte portrait.jpg --out out/ --guide isnet-general-use  # ISNet says what is subject\n"
            "  gfm matte incoming/ --out cutouts/ --watch          # keep cutting out the photos that land there\n"
            "  torchrun --nproc_per_node 4 -m gfm.cli.main matte photos/ -r --out mattes/  # 4 GPUs, a share each\n"
            "weights: --model takes a name from `gfm weights list` or a checkpoint path. The default,\n"
            "gfm-lite, is shipped with gfm (no download). The paper's checkpoints (e.g. gfm-r34-tt) are\n"
            "downloaded on first use; without internet, register a copy with\n"
            "`gfm weights import FILE --name gfm-r34-tt`. An .onnx file written by `gfm export` runs\n"
            "through onnxruntime (no PyTorch; same strategies, outputs, hints and guides).\n"
            "guides: --guide auto (default) uses the ISNet guide when its file is in the cache\n"
            "(`gfm weights download isnet-general-use`, or `gfm weights import FILE --name isnet-general-use`\n"
            "offline): ISNet says what is subject, GFM's focus decoder draws the edge."
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
        default=DEFAULT_FOREGROUND,
        choices=FOREGROUND_METHODS,
        help="foreground colour estimation for cutouts and composites: fast (default: pymatting's multi-level "
        "energy solved on the transition band; on RSSN composites closer to the true colours than ml in about "
        "an eighth of its time), ml (pymatting multi-level), cf (closed form, slow, the closest), blur (Blur-Fusion: "
        "as quick as fast, less exact), none (plain image x alpha)",
    )
    parser.add_argument("--background", help="composite background: an image file, or a colour: a CSS name (white, purple ...; "
                        "green is CSS green #008000, chroma green is #00b140), #rgb, #rrggbb, rgb(r,g,b) or r,g,b (default white)")
    parser.add_argument("--alpha-bits", type=int, choices=[8, 16], default=8, help="alpha PNG bit depth (default 8)")
    add_format_options(parser)
    parser.add_argument(
        "--hint",
        type=Path,
        metavar="HINT.png|DIR",
        help="guide the matte with a trimap-like PNG of the image's size: 0 background, 128 transition (the focus "
        "decoder's alpha), 255 foreground, transparent = let the network decide (a full trimap makes GFM a "
        "trimap-based method). A file for one input image, or a folder of NAME.png / NAME_trimap.png for a batch",
    )
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--skip-existing", action="store_true", help="skip images whose requested outputs all exist")
    existing.add_argument(
        "--overwrite",
        action="store_true",
        help="also replace existing files that gfm matte did not write (its own earlier outputs are replaced anyway)",
    )
    parser.add_argument(
        "--watch",
        action="store_true",
        help="keep running: matte the photos of the input folder, then each new or replaced one once it is completely "
        "written (like rembg p -w); one line a photo; Ctrl-C stops. Uses watchdog when installed "
        "(pip install 'gfm-matting[watch]'), else looks every half second",
    )
    add_progress_option(parser, dest="quiet")
    parser.set_defaults(func=under_torchrun(run, quiet="quiet"))  # torchrun: each process mattes its share


def _hint_finder(hint: Path | None, jobs: list[MatteJob]) -> Callable[[MatteJob], Path | None] | None:
    """``job -> its hint PNG or None`` for ``--hint``; ``None`` without ``--hint``.

    A file hints the single input image; a folder holds ``NAME.png`` or
    ``NAME_trimap.png`` (what ``--outputs trimap`` writes) for each input,
    in the inputs' sub-folders.

    Raises:
        InputError: a missing hint path, or one hint file for several images.
    """
    from gfm.errors import InputError

    if hint is None:
        return None
    if hint.is_dir():
        def in_folder(job: MatteJob) -> Path | None:
            stem = job.relative_stem
            candidates = (hint / stem.parent / f"{stem.name}.png", hint / stem.parent / f"{stem.name}_trimap.png")
            return next((c for c in candidates if c.is_file()), None)

        return in_folder
    if not hint.is_file():
        from gfm.io.images import special_file_message

        raise InputError(f"--hint {special_file_message(hint) or f'{hint}: no such file or folder'}")
    if len(jobs) > 1:
        raise InputError(f"--hint {hint}: one hint file for {len(jobs)} images; for a batch give a folder of hints named like the images (NAME.png)")
    return lambda job: hint


def _single_file_job(out: Path, kinds: list[str], jobs: list[MatteJob], problems: list[str]) -> list[MatteJob]:
    """``-o FILE`` (or ``-o -``): the one job, writing its one output to that file
    (for standard output: encoded in memory, written to stdout when done; no scratch file)."""
    from gfm.errors import InputError
    from gfm.inference.batch import check_single_file_output

    if len(kinds) != 1:
        raise InputError(f"-o {out} writes one file; choose one output with --outputs (e.g. --outputs alpha -o mask.png), "
                         "or give an output folder for several")
    check_single_file_output(out, kinds[0])
    if len(jobs) + len(problems) > 1:
        raise InputError(f"-o {out} writes one file, but the inputs name {len(jobs)} images; give an output folder (-o DIR/) instead")
    return [dataclasses.replace(job, target=out) for job in jobs]


def run(args: argparse.Namespace) -> int:
    if args.watch:
        from gfm.cli.watch import run_watch

        return run_watch(args)
    from tqdm import tqdm

    from gfm.inference.batch import (
        FOREGROUND_KINDS,
        STDIO,
        MatteJob,
        check_writable,
        collect_jobs,
        is_single_file_output,
        plan_outputs,
    )
    from gfm.inference.batch_writer import BatchReport, OutputPipeline, describe_failure
    from gfm.inference.foreground import parse_background
    from gfm.inference.guide import GuideWarning
    from gfm.inference.pipeline import ALPHA_WARNING, load_job_image, read_ahead
    from gfm.sharding import Shard
    from gfm.io.atomic import remove_stale_temporaries

    single_file = is_single_file_output(args.out)
    kinds = parse_outputs(args.outputs or ("cutout" if single_file else "alpha,cutout"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        background = parse_background(args.background or "white")
    if caught:  # an RGBA image: one line, not a raw warning with a source line
        print(f"note: --background {args.background} has an alpha channel; it is ignored (the colours are used)", file=sys.stderr)
    if args.background and "composite" not in kinds:
        print(f"note: --background is used by the composite output only; add it with --outputs {','.join(kinds)},composite",
              file=sys.stderr)
    found = collect_jobs(args.inputs, recursive=args.recursive)
    found.jobs = with_format(found.jobs, image_format(args, args.out if single_file and str(args.out) != STDIO else None))
    if single_file:
        found.jobs = _single_file_job(args.out, kinds, found.jobs, found.problems)
        if found.jobs and not found.jobs[0].to_stdout:
            check_writable(found.jobs[0].target.parent)  # type: ignore[union-attr]
    else:
        check_writable(args.out)
    # Decided before any work: files that appear later (another run) are never replaced.
    # -o FILE follows the same rules as an output folder (its own earlier output is replaced).
    inputs = frozenset(job.source.resolve() for job in found.jobs if not job.from_stdin)
    shard = getattr(args, "shard", None) or Shard()
    found = take_share(shard, found)  # torchrun: this process's share (every image in exactly one)
    jobs = found.jobs
    plans = {job: plan_outputs(job, args.out, kinds, overwrite=args.overwrite, skip_existing=args.skip_existing, inputs=inputs) for job in jobs}
    for folder in {job.output(args.out, kinds[0]).parent for job in jobs if not job.to_stdout}:
        remove_stale_temporaries(folder)  # what killed runs left

    hints_for = _hint_finder(args.hint, jobs)
    onnx_files = onnx_specs(args)
    guide = load_guide_option(args, quiet=args.quiet) if jobs else None
    quick = _fast_start.find(args, jobs, hints_for is not None) if onnx_files is None else None
    if quick is not None:  # one photo, default weights: their checked ONNX export, no torch
        from gfm.inference.fast_start import load_foreground_in_background

        load_foreground_in_background(args.foreground, kinds)
    if onnx_files is not None or quick is not None:  # exported files: onnxruntime, no torch
        predictor = build_onnx_predictor(args, onnx_files or [quick.onnx], guide)  # type: ignore[union-attr]
        if not args.quiet:
            how = " through onnxruntime (the quick start for one photo)" if quick is not None else ""
            print(f"model: {', '.join(m.name for m in predictor.models)}{how}, strategy {predictor.strategy.name}, "
                  f"precision {predictor.precision}", file=sys.stderr)
    else:
        specs, models = load_models(args)
        predictor = build_predictor(args, models, guide=guide)
        if not args.quiet:
            say_models(specs, models, predictor)
        del models  # the predictor holds its own (optimised) copies: free the loaded ones
    if not args.quiet:
        say_guide(guide)
    guided = None
    if hints_for is not None and onnx_files is None:
        from gfm.inference.guided import GuidedPredictor

        # Hinted photos through the maps of GuidedPredictor: where the hints say nothing
        # the alpha is bit for bit that of plain gfm matte (the ONNX graph's focus is dense anyway).
        guided = GuidedPredictor(predictor)
    unhinted = 0
    guide_notes: list[str] = []

    if jobs and args.foreground in ("fast", "ml", "cf") and any(k in kinds for k in FOREGROUND_KINDS):

        def say_why() -> None:
            if not args.quiet:
                which = "its" if args.foreground == "fast" else "pymatting's"
                print(f"gfm matte: preparing {which} foreground estimation (numba compiles it once after "
                      "installation: up to a minute)...", file=sys.stderr, flush=True)

        if args.foreground == "fast":
            from gfm.inference.band_solver import prepare

            prepare(on_slow=say_why)
        else:
            from gfm.data.foreground import load_pymatting

            load_pymatting(on_slow=say_why)
    report = BatchReport(failures=list(found.problems), skipped=len(found.skipped))
    dropped_alpha = 0
    start = time.perf_counter()
    bar = tqdm(jobs, unit="img", disable=args.quiet or not jobs, dynamic_ncols=True)

    def failed(job: MatteJob, error: BaseException) -> None:
        text = describe_failure(error)
        report.failures.append(f"{job.source}: {text}" if str(job.source) not in text and not job.from_stdin else text)

    def done(job: MatteJob) -> None:
        report.done += 1

    def read(job: MatteJob) -> LoadedImage | None:
        return load_job_image(job) if plans[job].action == "write" else None

    # Image k's outputs are written on a worker thread while image k + 1 is predicted; on a
    # GPU image k + 1 is also decoded on a thread while image k is predicted (on the CPU,
    # whose cores the network already keeps busy, that made a folder 5% slower).
    threaded = len(jobs) > 1
    ahead = threaded and getattr(getattr(predictor, "device", None), "type", "cpu") == "cuda"
    with warnings.catch_warnings(), OutputPipeline(done, failed, threaded=threaded) as pipeline:
        warnings.filterwarnings("ignore", message=ALPHA_WARNING)  # counted per image instead (LoadedImage.dropped_alpha)
        for job, loaded, read_error in read_ahead(bar, read, threaded=ahead):
            plan = plans[job]
            if plan.action == "skip":
                report.skipped += 1
                continue
            if plan.action == "refuse":
                report.failures.append(f"{job.source}: {plan.reason}")
                continue
            try:
                if read_error is not None:
                    raise read_error
                image = loaded.image  # type: ignore[union-attr]  # a job to write is always read
                dropped_alpha += loaded.dropped_alpha
                hint_path = hints_for(job) if hints_for is not None else None
                unhinted += hints_for is not None and hint_path is None
                hints = None
                if hint_path is not None:
                    from gfm.io.hints import read_hint

                    hints = read_hint(hint_path, image.shape[:2])
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", GuideWarning)
                    if guided is not None and hints is not None:
                        result = guided.predict(image, hints)
                    else:
                        result = predictor.predict(image, trimap="trimap" in kinds, hints=hints)
                guide_notes += [f"{job.source}: {w.message}" for w in caught if issubclass(w.category, GuideWarning)]
            except Exception as error:  # one image never ends the batch
                failed(job, error)
                continue
            pipeline.submit(
                job, args.out, kinds, image, result.alpha, result.trimap, args.foreground, background, args.alpha_bits, plan.replace
            )
            del image, loaded, result
    bar.close()

    counts = {"earlier_outputs": found.earlier_outputs, "unhinted": unhinted, "dropped_alpha": dropped_alpha}
    report, counts, elapsed = merge_reports(shard, report, counts, time.perf_counter() - start)  # torchrun: one summary
    if not shard.is_main:
        return 1 if report.failures else 0
    found.earlier_outputs, unhinted, dropped_alpha = counts["earlier_outputs"], counts["unhinted"], counts["dropped_alpha"]
    rate = f", {report.done / elapsed:.2f} images/s" if report.done and elapsed > 0 else ""
    if found.earlier_outputs:
        print(f"note: {found.earlier_outputs} file(s) of the inputs are outputs of an earlier gfm matte run; "
              "they are not matted again", file=sys.stderr)
    for line in guide_notes:
        print(f"note: {line}", file=sys.stderr)
    if unhinted:
        print(f"note: {unhinted} image(s) had no hint in {args.hint} (NAME.png or NAME_trimap.png); matted without hints", file=sys.stderr)
    if dropped_alpha:
        print(f"note: {dropped_alpha} input(s) had an alpha channel; it was ignored (the photo's colours were used)", file=sys.stderr)
    print(f"{report.done} matted, {report.skipped} skipped, {len(report.failures)} failed -> {args.out}{rate}", file=sys.stderr)
    if quick is None and onnx_files is None and report.done:
        _fast_start.offer(args, jobs, hints_for is not None, None if args.quiet else lambda text: print(text, file=sys.stderr, flush=True))
    for line in found.skipped:
        print(f"  skipped: {line}", file=sys.stderr)
    for line in report.failures:
        print(f"  failed: {line}", file=sys.stderr)
    return 1 if report.failures else 0
