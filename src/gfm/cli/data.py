"""``gfm data check ROOT``: list every problem of a dataset; exit 1 if any."""

from __future__ import annotations

import argparse
import sys

from gfm.cli._arguments import add_progress_option, non_negative_int


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="inspect datasets (gfm data check ROOT)")
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")
    sub.required = True
    check = sub.add_parser(
        "check",
        help="list missing partners, size mismatches, unreadable files and non-8-bit alphas",
        description=(
            "Check a dataset: AM-2k, P3M-10k (PM-10k), BG-20k, a folder with image and alpha "
            "sub-folders, a folder of photos with their mattes side by side (NAME.jpg + NAME_alpha.png: "
            "the same notion of a dataset as gfm evaluate --data and gfm train), or any folder of images. Exits 0 when clean, 1 when problems were found."
        ),
    )
    check.add_argument("root", help="dataset folder")
    check.add_argument(
        "--layout", choices=("am2k", "p3m", "bg20k", "pairs", "flat", "images"),
        help="dataset layout (default: detected; flat: photos with their mattes side by side, NAME.jpg + NAME_alpha.png)"
    )
    check.add_argument("--quick", action="store_true", help="read headers only (misses truncated files)")
    check.add_argument("--min-side", type=non_negative_int, default=0, metavar="PX",
                       help="also report images whose shorter side is below PX (default: no check)")
    add_progress_option(check)
    check.set_defaults(func=run_check)


def run_check(args: argparse.Namespace) -> int:
    from gfm.data.check import check_dataset

    report = check_dataset(
        args.root, args.layout, decode=not args.quick, min_side=args.min_side, progress=not args.no_progress
    )
    for problem in report.problems:
        print(f"{problem.kind}: {problem.message}")
    counted = ", ".join(f"{name}: {n} files" for name, n in report.counts.items())
    print(f"{report.root} ({report.layout}) {counted}", file=sys.stderr)
    if report.ok:
        print("no problems found", file=sys.stderr)
        return 0
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(report.by_kind().items()))
    print(f"{len(report.problems)} problem(s): {summary}", file=sys.stderr)
    return 1
