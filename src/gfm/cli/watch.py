"""``gfm matte IN --out OUT --watch``: keep running and cut out each photo that lands in IN.

Like ``rembg p -w IN OUT``: the photos already in IN first, then each new or
replaced one once it is completely written (its size and time unchanged for
half a second; one that cannot be read yet is tried again when it changes, or
after 3 s unchanged, before it is reported), with the model loaded once. Outputs follow ``gfm matte``'s rules
(names, marks, ``--format``, never an input replaced, other files only with
``--overwrite``); outputs of gfm matte (also when OUT is inside IN) are never taken
as photos. A bad file is reported and the watch goes on. One line a photo on
standard output; Ctrl-C (or SIGTERM) stops after the photo in hand, with a summary.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

from gfm.cli._model_options import build_onnx_predictor, build_predictor, load_models, onnx_specs, say_models
from gfm.cli._output_format import image_format, parse_outputs


#: A photo that cannot be read is tried again when it changes, or after this many seconds
#: unchanged, before it is reported (a writer may pause longer than the half second of settling).
RETRY_UNREADABLE_S = 3.0


def _check(args: argparse.Namespace) -> Path:
    """The one input folder of ``--watch``, or an :class:`InputError` saying what to give."""
    from gfm.errors import InputError
    from gfm.inference.batch import is_single_file_output

    if len(args.inputs) != 1 or not Path(args.inputs[0]).is_dir():
        raise InputError(f"--watch takes one folder to watch, got {' '.join(args.inputs)}; e.g. gfm matte incoming/ --out cutouts/ --watch")
    if is_single_file_output(args.out):
        raise InputError(f"--watch writes each photo's outputs into a folder; give --out a folder, not {args.out}")
    if args.hint is not None:
        raise InputError("--hint is for photos known in advance; leave it out with --watch")
    return Path(args.inputs[0])


def _predictor(args: argparse.Namespace) -> Any:
    onnx_files = onnx_specs(args)
    if onnx_files is not None:
        predictor = build_onnx_predictor(args, onnx_files)
        if not args.quiet:
            print(f"model: {', '.join(m.name for m in predictor.models)}, strategy {predictor.strategy.name}", file=sys.stderr)
        return predictor
    specs, models = load_models(args)
    predictor = build_predictor(args, models)
    if not args.quiet:
        say_models(specs, models, predictor)
    return predictor


def run_watch(args: argparse.Namespace, *, stop: threading.Event | None = None) -> int:
    """Watch ``args.inputs[0]`` until Ctrl-C (or ``stop`` is set); returns 1 if any photo failed."""
    from gfm.data.layouts import is_image_file
    from gfm.errors import InputError
    from gfm.inference.batch import MatteJob, check_writable, is_matte_output, plan_outputs
    from gfm.inference.batch_writer import describe_failure, write_outputs
    from gfm.inference.foreground import parse_background
    from gfm.io import read_image
    from gfm.io.atomic import remove_stale_temporaries
    from gfm.io.watch import FolderWatcher

    folder = _check(args)
    kinds = parse_outputs(args.outputs or "alpha,cutout")
    background = parse_background(args.background or "white")
    fmt = image_format(args)
    check_writable(args.out)
    remove_stale_temporaries(args.out)
    out, watched = args.out.resolve(), folder.resolve()
    predictor = _predictor(args)
    if any(k in kinds for k in ("cutout", "foreground", "composite", "preview")) and args.foreground == "fast":
        from gfm.inference.band_solver import prepare

        prepare()

    def accept(path: Path) -> bool:
        if not is_image_file(path):
            return False
        # --out inside the watched folder (-r): nothing there is a photo; elsewhere, gfm matte's marked outputs are not
        inside_out = out != watched and out in path.resolve().parents
        return not inside_out and not is_matte_output(path)

    stop = stop or threading.Event()
    previous = signal.signal(signal.SIGTERM, _interrupt) if threading.current_thread() is threading.main_thread() else None
    done = failed = skipped = 0
    deferred: set[Path] = set()  # unreadable once: reported if still unreadable when handed out again
    watcher = FolderWatcher(folder, accept, recursive=args.recursive)
    print(f"gfm matte: watching {folder} ({watcher.mode}) -> {args.out}; Ctrl-C stops", file=sys.stderr, flush=True)
    try:
        for path in watcher.ready(stop):
            job = MatteJob(path, path.relative_to(folder).with_suffix(""), image_format=fmt)
            start = time.perf_counter()
            plan = plan_outputs(job, args.out, kinds, overwrite=args.overwrite, skip_existing=args.skip_existing, inputs=frozenset({path.resolve()}))
            if plan.action == "skip":
                skipped += 1
                print(f"{path}: skipped (its outputs exist)", flush=True)
                continue
            try:
                if plan.action == "refuse":
                    raise_refusal(plan.reason)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # an RGBA photo's alpha is ignored, as in a batch
                    image = read_image(path)
                result = predictor.predict(image, trimap="trimap" in kinds)
                write_outputs(job, args.out, kinds, image, result.alpha, result.trimap, args.foreground, background, args.alpha_bits, plan.replace)
            except Exception as error:  # one photo never ends the watch
                if isinstance(error, InputError) and path not in deferred:
                    deferred.add(path)  # unreadable: perhaps its writer paused; look again when it changes or in a while
                    watcher.defer(path, RETRY_UNREADABLE_S)
                    continue
                deferred.discard(path)
                failed += 1
                text = describe_failure(error)
                print(f"{path}: failed: {text}", flush=True)
                continue
            deferred.discard(path)
            done += 1
            names = ", ".join(job.output(args.out, k).name for k in kinds)
            print(f"{path} -> {names} ({time.perf_counter() - start:.1f} s)", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        watcher.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    print(f"gfm matte: stopped watching {folder}: {done} matted, {skipped} skipped, {failed} failed", file=sys.stderr, flush=True)
    return 1 if failed else 0


def raise_refusal(reason: str) -> None:
    from gfm.errors import OutputError

    raise OutputError(reason)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


__all__ = ["run_watch"]
