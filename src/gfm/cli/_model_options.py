"""Model and inference options shared by ``gfm matte`` and ``gfm evaluate``.

``--model NAME|PATH`` (repeatable), ``--strategy``, ``--rosta``,
``--device``, ``--threads`` and ``--max-pixels`` mean the same in every
command that runs the predictor; this module adds them to a parser and turns
the parsed values into loaded models and a :class:`~gfm.inference.Predictor`.
Heavy imports stay inside the functions (``gfm --help`` must stay fast).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gfm.cli._arguments import pixel_count, positive_int

if TYPE_CHECKING:
    from gfm.inference import Predictor, Strategy
    from gfm.inference.guide import Guide
    from gfm.inference.onnx_runtime import OnnxPredictor
    from gfm.models import GFM

STRATEGY_CHOICES = ("hybrid", "single", "resize", "guided", "ensemble")
ENSEMBLE_MEMBER_STRATEGY = "hybrid"

STRATEGY_HELP = (
    "hybrid: glance at 1/3, focus at 1/2 (the paper's best); single: one pass at 5/13; "
    "resize: one pass at 1/2; guided: glance at 5/13, focus at 1/2 (for use with a guide); ensemble: per-pixel "
    "median of several models (hybrid each). Default: the strategy measured best for the weights (single for "
    "gfm-lite, guided for gfm-lite with a guide, hybrid for the paper's checkpoints and for checkpoint files)"
)
MODEL_HELP = (
    "weights name, checkpoint file, or a `gfm train` run folder (its best.pt, else last.pt); "
    "repeat for an ensemble (default gfm-lite, shipped with gfm; the paper's checkpoints, e.g. gfm-r34-tt, "
    "are downloaded on first use; for --strategy ensemble gfm-r34-tt, gfm-r34-ft and gfm-r34-bt); "
    "an .onnx file from `gfm export` runs through onnxruntime"
)


def guide_help(default: str) -> str:
    """``--guide``'s help, with the command's default (``auto`` or ``none``)."""
    return (
        "a segmentation model whose mask says what is subject, GFM drawing the edge: a guide's name "
        "(isnet-general-use: ISNet, as rembg serves it; `gfm weights download isnet-general-use`), an .onnx "
        "segmentation model, auto (the default guide when its file is in the cache; never downloads) or none "
        f"(GFM alone). Default {default}"
    )


def add_model_options(
    parser: argparse.ArgumentParser, model_group: Any = None, model_help: str = MODEL_HELP, guide_default: str = "auto"
) -> None:
    """Add ``--model`` (to ``model_group`` when given, e.g. a mutually
    exclusive group), ``--guide`` (default ``guide_default``) and the inference options to ``parser``.

    ``--strategy``, ``--device`` and ``--precision`` default to ``None`` so that a
    command can tell whether they were given; :func:`build_predictor` applies the
    defaults (the weights' measured strategy, auto, auto).
    """
    (model_group or parser).add_argument("--model", action="append", metavar="NAME|PATH", help=model_help)
    parser.add_argument("--guide", default=guide_default, metavar="NAME|FILE.onnx|auto|none", help=guide_help(guide_default))
    parser.add_argument("--strategy", choices=STRATEGY_CHOICES, help=STRATEGY_HELP)
    parser.add_argument("--rosta", choices=["FT", "BT"], help="for a released 2-class checkpoint file: which RoSTa it is")
    parser.add_argument("--device", help="auto (CUDA if available), cpu, cuda or cuda:N (default auto)")
    parser.add_argument("--threads", type=positive_int,
                        help="CPU threads for PyTorch (default: the cores other processes leave free, by the load average)")
    parser.add_argument("--max-pixels", type=pixel_count, metavar="PIXELS|WxH",
                        help="working-resolution budget a pass: a pixel count or WIDTHxHEIGHT (default 1600x1600)")
    parser.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16"],
        help="auto (default): bf16 on CPUs with native bf16 (AVX512-BF16/AMX) for weights whose bf16 change was "
        "measured invisible (gfm-lite), else fp32; fp32: the released network's numbers; bf16: autocast, "
        "about 1.5x faster on such CPUs",
    )


#: The options :func:`add_model_options` adds besides ``--model`` (dest names).
INFERENCE_OPTIONS = ("strategy", "rosta", "device", "threads", "max_pixels", "precision")


def given_inference_options(args: argparse.Namespace) -> list[str]:
    """The inference options given on the command line, as ``--flag`` strings."""
    return ["--" + name.replace("_", "-") for name in INFERENCE_OPTIONS if getattr(args, name, None) is not None]


def is_ensemble(args: argparse.Namespace) -> bool:
    return args.strategy == "ensemble"


def model_specs(args: argparse.Namespace) -> list[str]:
    """The ``--model`` values, or the defaults (one model; three for an ensemble).

    Several models always make a per-pixel median ensemble, each run with the
    strategy (``ensemble`` = hybrid).

    Raises:
        InputError: ``--strategy ensemble`` with fewer than two models.
    """
    from gfm.errors import InputError
    from gfm.inference.models import DEFAULT_ENSEMBLE, default_model_name

    ensemble = is_ensemble(args)
    specs = list(args.model or (DEFAULT_ENSEMBLE if ensemble else [default_model_name()]))
    if ensemble and len(specs) < 2:
        raise InputError("--strategy ensemble needs two or more --model (e.g. the TT, FT and BT models)")
    return specs


def describe_models(specs: list[str]) -> str:
    """Specs as recorded in reports: checkpoint files resolved to absolute paths."""
    return ", ".join(str(Path(spec).resolve()) if Path(spec).exists() else spec for spec in specs)


def onnx_specs(args: argparse.Namespace) -> list[str] | None:
    """The ``--model`` values when they name ONNX files (``gfm export``), else ``None``.

    Raises:
        InputError: ONNX files mixed with PyTorch models, or options the ONNX
            runtime does not have (``--precision bf16``, ``--device cuda``, ``--rosta``).
    """
    from gfm.errors import InputError
    from gfm.inference.onnx_runtime import is_onnx_file

    given = args.model or []
    onnx = [spec for spec in given if is_onnx_file(spec)]
    if not onnx:
        return None
    if len(onnx) != len(given):
        raise InputError("--model: ONNX files and PyTorch models cannot be mixed in one ensemble; give only .onnx files or none")
    if args.precision == "bf16":
        raise InputError("--precision bf16 is a PyTorch option; an ONNX file runs at the precision it was exported with "
                         "(gfm export --quantize int8 for int8)")
    if args.device not in (None, "auto", "cpu"):
        raise InputError(f"--device {args.device}: ONNX files run on the CPU here; leave --device out")
    if args.rosta:
        raise InputError("--rosta applies to released checkpoint files, not to ONNX files (their RoSTa is recorded in them)")
    return onnx


GUIDE_TIP_MARKER = "guide-tip-shown"


def load_guide_option(args: argparse.Namespace, quiet: bool = False) -> Guide | None:
    """The guide ``--guide`` names (see :func:`gfm.inference.guide.load_guide`), loaded.

    With ``auto`` and no guide at hand, says once (a marker in the cache folder)
    how to get one; names the guide in use on stderr unless ``quiet``.
    """
    from gfm.cpu import inference_threads
    from gfm.inference.guide import GUIDE_AUTO, load_guide

    spec = getattr(args, "guide", None) or "none"
    progress = not quiet and sys.stderr.isatty()
    guide = load_guide(spec, progress=progress, threads=args.threads or inference_threads())
    if guide is None and spec == GUIDE_AUTO and not quiet:
        _tip_once()
    return guide


def _tip_once() -> None:
    """How to get the default guide: once per cache folder (a marker file), never an error."""
    from gfm.hub.cache import gfm_home
    from gfm.hub.registry import DEFAULT_GUIDE

    marker = gfm_home() / GUIDE_TIP_MARKER
    if marker.exists():
        return
    import importlib.util

    # Only whether it is installed: importing onnxruntime costs time (and writes TMPDIR/.ses).
    install = "" if importlib.util.find_spec("onnxruntime") is not None else 'pip install "gfm-matting[guide]" and '
    print(f"tip: portraits and busy scenes come out much better with a guide (a segmentation model for what is "
          f"subject, GFM for the edge): {install}`gfm weights download {DEFAULT_GUIDE}` once (or, offline, "
          f"`gfm weights import FILE --name {DEFAULT_GUIDE}`); gfm matte then uses it (--guide none turns it off). "
          "This tip is shown once.", file=sys.stderr)
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        pass  # a read-only cache: the tip comes again next time, nothing worse


def say_guide(guide: Guide | None) -> None:
    """``guide: isnet-general-use (/path/isnet-general-use.onnx)`` on stderr, when there is one."""
    if guide is not None:
        print(f"guide: {guide.describe()}", file=sys.stderr)


def build_onnx_predictor(args: argparse.Namespace, specs: list[str], guide: Guide | None = None) -> OnnxPredictor:
    """An :class:`~gfm.inference.onnx_runtime.OnnxPredictor` of ONNX files with the
    options of ``args`` (``--threads`` sets onnxruntime's threads; without
    ``--strategy``, the strategy recorded in the first file). Imports no torch."""
    from gfm.cpu import inference_threads
    from gfm.inference.onnx_runtime import OnnxPredictor
    from gfm.inference.sizing import DEFAULT_MAX_PIXELS

    return OnnxPredictor(
        specs,
        ENSEMBLE_MEMBER_STRATEGY if is_ensemble(args) else args.strategy,
        max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS,
        threads=args.threads or inference_threads(),
        guide=guide,
    )


def load_models(args: argparse.Namespace) -> tuple[list[str], list[GFM]]:
    """Apply ``--threads`` and load the ``--model`` networks (see :func:`model_specs`)."""
    from gfm.inference.models import load_model_spec

    import torch

    from gfm.cpu import inference_threads

    threads = args.threads or inference_threads()
    torch.set_num_threads(threads)  # a busy machine is not oversubscribed
    if "numba" not in sys.modules:  # read when numba loads; changed after its threads started, numba raises RuntimeError
        os.environ.setdefault("NUMBA_NUM_THREADS", str(min(threads, os.cpu_count() or 1)))  # foreground sweeps
    specs = model_specs(args)
    progress = not getattr(args, "quiet", False) and sys.stderr.isatty()
    return specs, [load_model_spec(spec, rosta=args.rosta, progress=progress) for spec in specs]


def say_models(specs: list[str], models: list[GFM], predictor: Predictor) -> None:
    """One line on stderr naming the model(s) in use and how they run, e.g.
    ``model: gfm-lite (effl0-TT), strategy single, precision bf16``."""
    described = ", ".join(f"{spec} ({model.config.name})" for spec, model in zip(specs, models))
    print(f"model: {described}, strategy {predictor.strategy.name}, precision {predictor.precision}", file=sys.stderr)


def build_predictor(
    args: argparse.Namespace, models: list[GFM], strategy: str | Strategy | None = None, guide: Guide | None = None
) -> Predictor:
    """A predictor of ``models`` with the options of ``args``.

    Args:
        strategy: overrides ``--strategy`` (e.g. a sweep's
            :class:`~gfm.inference.Strategy`); an ensemble runs each model
            with the hybrid strategy; without either, the weights' measured one.
        guide: from :func:`load_guide_option`.
    """
    from gfm.inference.predictor import DEFAULT_MAX_PIXELS, Predictor

    if strategy is None:
        strategy = ENSEMBLE_MEMBER_STRATEGY if is_ensemble(args) else args.strategy
    return Predictor(
        models,
        strategy=strategy,
        device=args.device or "auto",
        max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS,
        precision=args.precision or "auto",
        guide=guide,
    )
