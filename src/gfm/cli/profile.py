"""``gfm profile``: parameters, GMACs, latency and peak memory (the paper's Table 7)."""

from __future__ import annotations

import argparse
from typing import Any

from gfm.cli._arguments import non_negative_int, number, positive_int

DESCRIPTION = """\
Profile GFM variants (random weights) or checkpoints like the paper's Table 7:
parameters (as released, and those the forward pass uses), GMACs at SIZE x SIZE
(the paper's counting convention, and convolutions only), the median latency
of the whole network over --repeats forward passes and their range, after
warm-up passes run until three in a row agree within 10% (a fresh process's
first passes are several times slower; on the inference-optimised model;
threads stated), and the peak memory during those
passes. Each model is timed in its own child process so that memory is its
own. --repeats 0 counts parameters and GMACs only (instant: no weights are
allocated for counting).
"""

EPILOG = """\
examples:
  gfm profile                                   # effl0-TT (the default GFM-Lite) r34-TT d121-TT r34_2b-TT r101-TT, 800x800
  gfm profile --variants r34-TT r34-RIM --threads 4
  gfm profile --model gfm-r34-tt --device cuda --repeats 20 --format json
  gfm profile --variants r101-TT --repeats 0    # parameters and GMACs only
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "profile",
        help="parameters, GMACs, latency and peak memory of variants or checkpoints (Table 7)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = parser.add_mutually_exclusive_group()
    what.add_argument(
        "--variants",
        nargs="+",
        metavar="NAME",
        help="variants BACKBONE-ROSTA (see gfm models; default effl0-TT r34-TT d121-TT r34_2b-TT r101-TT)",
    )
    what.add_argument("--model", action="append", metavar="NAME|PATH", help="a weights name or checkpoint file (repeatable)")
    parser.add_argument("--rosta", choices=["FT", "BT"], help="for a released 2-class checkpoint file: which RoSTa it is")
    parser.add_argument("--size", type=number(int, minimum=32, maximum=16384), default=800, help="square input side in pixels, a multiple of 32 (default 800)")
    parser.add_argument("--repeats", type=non_negative_int, default=5, help="timed forward passes, median reported (default 5; 0: no timing)")
    parser.add_argument("--threads", type=positive_int, help="PyTorch CPU threads for timing (default: PyTorch's default)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where to time (default cpu)")
    parser.add_argument("--format", choices=["markdown", "json"], default="markdown", help="output format (default markdown)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from gfm.profiling.profiler import DEFAULT_VARIANTS, format_json, format_markdown, profile_model

    options = {"size": args.size, "repeats": args.repeats, "threads": args.threads, "device": args.device}
    if args.model:
        jobs = [{"checkpoint": spec, "rosta": args.rosta} for spec in args.model]
    else:
        jobs = [{"variant": name} for name in (args.variants or DEFAULT_VARIANTS)]
    rows = []
    for job in jobs:
        if args.repeats:
            print(f"profiling {job.get('variant') or job.get('checkpoint')} ...", file=sys.stderr, flush=True)
        rows.append(profile_model(**job, **options))
    print((format_json if args.format == "json" else format_markdown)(rows), end="")
    return 0
