"""``gfm evaluate``: score predicted alphas against a dataset's ground truth."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from gfm.errors import ConfigError

DESCRIPTION = """\
Compute the paper's matting metrics (SAD, MSE, MAD, Grad, Conn, SAD-TRAN,
MSE-TRAN, MAD-TRAN, SAD-FG, SAD-BG) of a folder of predicted alphas against
the ground truth, with the conventions of the released GFM evaluation code
(SAD / 1000, Grad / 10, per-image means).

Ground truth, one of:
  --data ROOT       AM-2k validation (ROOT/validation/{original,mask,trimap}
                    or ROOT/{original,mask,trimap}) or P3M-10k validation
                    (ROOT[/validation]/P3M-500-P/{blurred_image,mask,trimap},
                    P3M-500-NP/{original_image,mask,trimap}; --subset picks one)
  --images DIR --alphas DIR [--trimaps DIR]
                    any folders, matched by file name without extension

Predictions are matched by file name: NAME.png or NAME_alpha.png for the
image NAME.jpg; 8-bit values are divided by 255, 16-bit by 65535. Without
trimaps, they are generated from the ground truth (25x25 elliptical kernel)
and the report says so.

Writes OUT/per_image.csv (every metric of every image, kept up to date
during the run and on interruption), OUT/summary.json (means, count, settings) and OUT/table.md (a row
like the paper's Table 1). Without --resume an existing report in OUT is
replaced.
"""

EPILOG = """\
examples:
  gfm evaluate --pred results/am2k --data datasets/AM-2k --out eval/am2k
  gfm evaluate --pred results/p3m --data datasets/P3M-10k --subset P3M-500-NP --out eval/np
  gfm evaluate --pred out/ --images imgs/ --alphas gt/ --out eval/ --resume
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="score predicted alphas against ground truth (SAD, MSE, Grad, Conn, ...)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--pred", metavar="DIR", help="folder of predicted alphas (NAME.png or NAME_alpha.png)"
    )
    # HOOK(--model): the lead adds `source.add_argument("--model", ...)` (and the
    # inference options) here; run() then passes `predictor=` instead of
    # `predictions=` to gfm.metrics.evaluation.evaluate (see _predictor below).

    truth = parser.add_mutually_exclusive_group(required=True)
    truth.add_argument("--data", metavar="ROOT", help="AM-2k or P3M-10k dataset folder (see above)")
    truth.add_argument("--images", metavar="DIR", help="folder of images (with --alphas)")
    parser.add_argument("--alphas", metavar="DIR", help="folder of ground-truth alphas (with --images)")
    parser.add_argument(
        "--trimaps", metavar="DIR", help="folder of trimaps (0/128/255) (with --images); default: generated"
    )
    parser.add_argument(
        "--subset",
        metavar="NAME",
        help="P3M-10k subset with --data: P3M-500-P or P3M-500-NP (needed when both are present)",
    )
    parser.add_argument("--out", metavar="DIR", required=True, help="folder for the reports")
    parser.add_argument(
        "--resume", action="store_true", help="keep the images already in OUT/per_image.csv, score the rest"
    )
    parser.add_argument(
        "--name", metavar="TEXT", help="method name in the table (default: the prediction folder's name)"
    )
    parser.add_argument(
        "--snap-trimaps",
        action="store_true",
        help="map trimap values other than 0/128/255 to the nearest of them (default: error)",
    )
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="score the images that have a prediction and list the others (default: error)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _predictor(args: argparse.Namespace) -> Any:
    """HOOK(--model): return ``predict(image_rgb_uint8) -> float alpha`` when
    ``--model`` is given, else ``None`` (evaluate the --pred folder).

    For instance, with ``predictor = gfm.inference.Predictor(...)`` built from
    the model options: ``return lambda image: predictor.predict(image).alpha``.
    ``evaluate(..., save_predictions=DIR)`` can keep the predicted alphas.
    """
    return None


def run(args: argparse.Namespace) -> int:
    from gfm.metrics.datasets import discover_dataset, folder_dataset
    from gfm.metrics.evaluation import evaluate

    if args.data is not None:
        if args.alphas or args.trimaps:
            raise ConfigError("--alphas and --trimaps go with --images, not with --data")
        dataset = discover_dataset(args.data, subset=args.subset)
    else:
        if not args.alphas:
            raise ConfigError("--images needs --alphas DIR (the ground-truth alphas)")
        if args.subset:
            raise ConfigError("--subset goes with --data (a P3M-10k folder)")
        dataset = folder_dataset(args.images, args.alphas, args.trimaps)

    predictor = _predictor(args)
    print(f"{dataset.name}: {len(dataset)} images, trimaps "
          f"{'from the dataset' if dataset.trimaps_provided else 'generated from the ground truth (25x25 ellipse)'}")
    result = evaluate(
        dataset,
        args.out,
        predictions=None if predictor is not None else args.pred,
        predictor=predictor,
        method=args.name,
        resume=args.resume,
        snap_trimaps=args.snap_trimaps,
        allow_missing=args.allow_missing,
        progress=not args.no_progress,
    )
    print(result.markdown_path.read_text(encoding="utf-8"), end="")
    if result.missing:
        shown = ", ".join(result.missing[:10]) + (", ..." if len(result.missing) > 10 else "")
        print(textwrap.fill(f"warning: {len(result.missing)} images had no prediction: {shown}"))
    print(f"wrote {result.csv_path}, {result.json_path}, {result.markdown_path}")
    return 0
