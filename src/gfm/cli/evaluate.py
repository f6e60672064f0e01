"""``gfm evaluate``: score predicted alphas against a dataset's ground truth."""

from __future__ import annotations

import argparse
import platform
import textwrap
from pathlib import Path
from typing import Any

from gfm.cli._arguments import add_progress_option
from gfm.cli._model_options import (
    add_model_options,
    build_predictor,
    describe_models,
    given_inference_options,
    load_guide_option,
    load_models,
    is_ensemble,
)
from gfm.errors import ConfigError

DESCRIPTION = """\
Compute the paper's matting metrics (SAD, MSE, MAD, Grad, Conn, SAD-TRAN,
MSE-TRAN, MAD-TRAN, SAD-FG, SAD-BG) of predicted alphas against the ground
truth, with the conventions of the released GFM evaluation code (SAD / 1000,
Grad / 10, per-image means). The alphas come from a folder (--pred) or from
a model run on every image (--model, with the options and defaults of gfm matte).

Ground truth, one of:
  --data ROOT       AM-2k validation (ROOT/validation/{original,mask,trimap}),
                    P3M-10k validation
                    (ROOT[/validation]/P3M-500-P/{blurred_image,mask,trimap},
                    P3M-500-NP/{original_image,mask,trimap}; --subset picks one)
                    or any folder of pairs as gfm train reads it (ROOT/original
                    + ROOT/mask, images + alphas, ..., and trimap if there),
                    which the reports name by its path
  --images DIR --alphas DIR [--trimaps DIR]
                    any folders, matched by file name without extension

Predictions are matched by file name: NAME.png or NAME_alpha.png for the
image NAME.jpg; 8-bit values are divided by 255, 16-bit by 65535. Without
trimaps, they are generated from the ground truth (25x25 elliptical kernel)
and the report says so.

Writes OUT/per_image.csv (every metric of every image, and with --model the
prediction seconds, kept up to date during the run and on interruption),
OUT/summary.json (means, count, settings) and OUT/table.md (a row like the
paper's Table 1). Without --resume an existing report in OUT is replaced;
--resume refuses a report made from other predictions (folder, or model and
strategy).

--sweep (with --model) evaluates the test resolutions of the paper's Table 6:
hybrid glance 1/d1, focus 1/d2 for d1, d2 in {2, 3, 4}, d1 >= d2 (equal
ratios are one pass), and single ratios d = 2.0, 2.2, ..., 3.0; hybrid 2,2
and single 2.0 (likewise 3,3 and 3.0) are computed once and listed under both
labels. --sweep-settings '3,2 4,4 2.6' picks other settings (D1,D2 hybrid, D
single). Each setting is evaluated in OUT/glanceD1_focusD2/ (resumable);
OUT/sweep.csv, sweep.json and sweep.md tabulate SAD, MSE and the mean
prediction seconds per image, best SAD in bold.
"""

EPILOG = """\
examples:
  gfm evaluate --pred results/am2k --data datasets/AM-2k --out eval/am2k
  gfm evaluate --pred results/p3m --data datasets/P3M-10k --subset P3M-500-NP --out eval/np
  gfm evaluate --pred out/ --images imgs/ --alphas gt/ --out eval/ --resume
  gfm evaluate --model gfm-r34-tt --strategy single --data datasets/AM-2k --out eval/single
  gfm evaluate --model runs/mine/best.pt --data datasets/AM-2k --out eval/mine --save-predictions eval/mine/alphas
  gfm evaluate --model gfm-r34-tt --data datasets/AM-2k --out eval/sweep --sweep --device cuda
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="score predicted alphas against ground truth (SAD, MSE, Grad, Conn, ...)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group()  # neither: run the default model(s), as gfm matte does
    source.add_argument(
        "--pred", metavar="DIR", help="folder of predicted alphas (NAME.png or NAME_alpha.png)"
    )
    add_model_options(
        parser,
        model_group=source,
        model_help="run this model (weights name, checkpoint file or `gfm train` run folder) on every image instead of --pred; "
        "repeat for a median ensemble. Without --pred and --model: the models gfm matte uses (the default, gfm-lite; "
        "with --strategy ensemble the r34 TT, FT and BT models)",
        guide_default="none",  # reports stay comparable: a guide is named when wanted
    )
    parser.add_argument(
        "--save-predictions", metavar="DIR", help="with --model: also write the predicted alphas (NAME.png) here"
    )
    parser.add_argument(
        "--sweep", action="store_true", help="with --model: evaluate the test resolutions of the paper's Table 6"
    )
    parser.add_argument(
        "--sweep-settings",
        metavar="LIST",
        help="with --model: sweep these settings instead, e.g. '3,2 4,4 2.6' (D1,D2: glance 1/D1, focus 1/D2; "
        "D: one pass at 1/D)",
    )

    truth = parser.add_mutually_exclusive_group(required=True)
    truth.add_argument("--data", metavar="ROOT", help="AM-2k or P3M-10k dataset folder, or a folder of image and alpha folders (see above)")
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
        "--name",
        metavar="TEXT",
        help="method name in the table (default: the prediction folder's name, or MODEL (STRATEGY))",
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
    add_progress_option(parser)
    parser.set_defaults(func=run)


def _check_options(args: argparse.Namespace) -> None:
    if args.pred is not None:
        extra = given_inference_options(args)
        for flag, value in (("--save-predictions", args.save_predictions), ("--sweep", args.sweep or None),
                            ("--sweep-settings", args.sweep_settings)):
            if value is not None:
                extra.append(flag)
        if extra:
            raise ConfigError(
                f"{', '.join(extra)}: only with --model (they set how a model predicts); --pred scores existing files"
            )
    if (args.sweep or args.sweep_settings) and args.strategy not in (None, "ensemble"):
        raise ConfigError(
            f"--strategy {args.strategy} does not go with --sweep: the sweep sets the glance and focus ratios "
            "itself (use --sweep-settings to choose them; --strategy ensemble with several --model is allowed)"
        )


def _strategy_text(strategy: Any) -> str:
    return f"glance 1/{1 / strategy.glance_scale:.4g}, focus 1/{1 / strategy.focus_scale:.4g}"


def _environment(device: Any) -> dict[str, Any]:
    """Where the prediction times come from (recorded, not checked on resume)."""
    import torch

    from gfm import __version__

    return {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({platform.machine()})",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "gfm": __version__,
    }


def _run_model(args: argparse.Namespace, dataset: Any) -> int:
    from gfm.evaluation.runner import evaluate
    from gfm.evaluation.sweep import default_settings, parse_settings, run_sweep
    from gfm.inference import Strategy
    from gfm.inference.precision import resolve_precision
    from gfm.inference.predictor import DEFAULT_MAX_PIXELS, resolve_device

    settings = parse_settings(args.sweep_settings) if args.sweep_settings else None  # errors before loading
    specs, models = load_models(args)
    guide = load_guide_option(args, quiet=args.no_progress)
    source = f"model {describe_models(specs)}"
    if args.rosta:
        source += f" (rosta {args.rosta})"
    if guide is not None:
        source += f"; guide {guide.describe()}"
    source += f"; max_pixels {args.max_pixels or DEFAULT_MAX_PIXELS}"
    names = "+".join(Path(spec).stem for spec in specs)
    progress = not args.no_progress

    if args.sweep or args.sweep_settings:
        settings = settings or default_settings()
        environment = _environment(resolve_device(args.device or "auto"))

        def make_predictor(setting: Any) -> Any:
            predictor = build_predictor(args, models, Strategy.from_ratios(setting.d_glance, setting.d_focus), guide=guide)
            return lambda image: predictor.predict(image).alpha

        def announce(setting: Any, folder: Path) -> None:
            print(f"sweep: {setting.label} -> {folder}", flush=True)

        if is_ensemble(args):
            source += "; ensemble (per-pixel median)"
        if resolve_precision(args.precision or "auto", resolve_device(args.device or "auto"), models) == "bf16":
            source += "; precision bf16"  # fp32 results stay comparable with earlier (fp32) evaluations
        sweep = run_sweep(
            dataset,
            args.out,
            make_predictor,
            settings,
            source=source,
            method=args.name or names,
            resume=args.resume,
            snap_trimaps=args.snap_trimaps,
            save_predictions=args.save_predictions,
            notes=[f"Timed on {', '.join(f'{k} {v}' for k, v in environment.items())} "
                   "(resumed images keep the times of their first run)."],
            on_setting=announce,
            progress=progress,
        )
        print(sweep.markdown_path.read_text(encoding="utf-8"), end="")
        print(f"wrote {sweep.csv_path}, {sweep.json_path}, {sweep.markdown_path} and one folder per setting")
        return 0

    predictor = build_predictor(args, models, guide=guide)
    strategy = "ensemble" if is_ensemble(args) else predictor.strategy.name
    if predictor.precision == "bf16":  # fp32 results stay comparable with earlier (fp32) evaluations
        source += "; precision bf16"
    source += f"; strategy {strategy} ({_strategy_text(predictor.strategy)})"
    environment = _environment(predictor.device)
    guided = f", guide {guide.name}" if guide is not None else ""
    print(f"model {', '.join(specs)}{guided}, strategy {strategy}, {environment['device']}, {environment['threads']} threads")
    result = evaluate(
        dataset,
        args.out,
        predictor=lambda image: predictor.predict(image).alpha,
        source=source,
        method=args.name or f"{names}{' + ' + guide.name if guide is not None else ''} ({strategy})",
        resume=args.resume,
        snap_trimaps=args.snap_trimaps,
        save_predictions=args.save_predictions,
        warmup=True,
        environment=environment,
        progress=progress,
    )
    _print_result(result)
    return 0


def _print_result(result: Any) -> None:
    print(result.markdown_path.read_text(encoding="utf-8"), end="")
    if result.missing:
        shown = ", ".join(result.missing[:10]) + (", ..." if len(result.missing) > 10 else "")
        print(textwrap.fill(f"warning: {len(result.missing)} images had no prediction: {shown}"))
    print(f"wrote {result.csv_path}, {result.json_path}, {result.markdown_path}")


def run(args: argparse.Namespace) -> int:
    from gfm.evaluation.datasets import discover_dataset, folder_dataset
    from gfm.evaluation.runner import evaluate

    _check_options(args)

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

    print(f"{dataset.name}: {len(dataset.samples)} images, trimaps "
          f"{'from the dataset' if dataset.trimaps_provided else 'generated from the ground truth (25x25 ellipse)'}")
    if args.pred is None:
        return _run_model(args, dataset)
    result = evaluate(
        dataset,
        args.out,
        predictions=args.pred,
        method=args.name,
        resume=args.resume,
        snap_trimaps=args.snap_trimaps,
        allow_missing=args.allow_missing,
        progress=not args.no_progress,
    )
    _print_result(result)
    return 0
