"""``gfm matte`` on one photo with the default weights: onnxruntime instead of PyTorch
when a checked export is cached (:mod:`gfm.inference.fast_start`), the compiled
foreground kernels loaded on a thread meanwhile
(:func:`gfm.inference.fast_start.load_foreground_in_background`)."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gfm.inference.batch import MatteJob
    from gfm.inference.fast_start import FastStart


def eligible(args: argparse.Namespace, jobs: Sequence[MatteJob], hinted: bool) -> bool:
    """Whether this run may use the quick start: one photo, the default weights (or
    the name they were exported under), no hints, an fp32-compatible precision, the CPU."""
    return (
        len(jobs) == 1
        and not hinted
        and (args.model is None or len(args.model) == 1)
        and args.strategy != "ensemble"
        and args.precision in (None, "auto", "fp32")
        and args.device in (None, "auto", "cpu")
        and args.rosta is None
    )


def find(args: argparse.Namespace, jobs: Sequence[MatteJob], hinted: bool) -> FastStart | None:
    """The cached export this run can use instead of PyTorch, or ``None``. Imports no torch."""
    from gfm.inference import fast_start

    if not eligible(args, jobs, hinted):
        return None
    return fast_start.find(args.model[0] if args.model else None)


def offer(args: argparse.Namespace, jobs: Sequence[MatteJob], hinted: bool, say: Callable[[str], None] | None) -> None:
    """After a single-photo PyTorch run with the default weights: export them for quick starts
    (once; needs onnx and onnxruntime, silently skipped without them)."""
    from gfm.inference import fast_start

    if not fast_start.enabled() or not eligible(args, jobs, hinted) or args.model is not None or fast_start.find() is not None:
        return
    if importlib.util.find_spec("onnx") is None or importlib.util.find_spec("onnxruntime") is None:
        return
    if say is not None:
        say("gfm matte: preparing a quicker start for the next single photos (once: an ONNX copy of the weights, "
            "checked against PyTorch, in the user's cache folder)...")
    from gfm.errors import GFMError

    try:
        fast_start.create()
    except (GFMError, OSError, ImportError) as error:  # the run itself succeeded: say so, and go on
        print(f"note: no quick start prepared ({error})", file=sys.stderr)


__all__ = ["eligible", "find", "offer"]
