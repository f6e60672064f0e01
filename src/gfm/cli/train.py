"""``gfm train``: the paper's training recipes (presets) on your data."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gfm.cli._arguments import add_progress_option, non_negative_int, positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a GFM model (ORI-Track on real images or COMP-Track on composites)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Train GFM with one of the paper's recipes. A run folder (--out) receives config.yaml (the\n"
            "resolved configuration), metrics.jsonl / train.csv / val.csv, checkpoints/ (every\n"
            "log.checkpoint_every steps, the last log.keep_last kept), last.pt and best.pt (weights with\n"
            "metadata: `gfm matte --model RUN` uses best.pt, else last.pt). A killed run continues exactly where it\n"
            "stopped with --resume. Several GPUs (or CPU processes): launch with torchrun, e.g.\n"
            "  torchrun --nproc_per_node 4 -m gfm.cli.main train --preset ori-am2k-r34-tt --data AM-2k/\n"
            "Presets are TRACK-BACKBONE-ROSTA with TRACK in ori-am2k, ori-p3m, comp-rssn, comp-bg20k,\n"
            "comp-coco (Adam, lr 1e-5, batch 32 r34 / 8 r101 / 4 d121, crops 640/960/1280 -> 320,\n"
            "500 epochs ORI, 100 COMP). Any setting can be changed with --set section.key=value."
        ),
        epilog=(
            "examples:\n"
            "  gfm train --preset ori-am2k-r34-tt --data AM-2k --validation AM-2k --backbone-weights resnet34-b627a593.pth\n"
            "  gfm train --preset comp-rssn-d121-tt --data AM-2k --backgrounds BG-20k --set data.workers=8\n"
            "  gfm train --preset ori-am2k-tiny-tt --data examples --steps 20 --out runs/demo\n"
            "  gfm train --resume --out runs/demo --steps 40"
        ),
    )
    parser.add_argument("--preset", help="recipe name (see --list-presets)")
    parser.add_argument("--config", help="YAML file with sections model, data, optim, log (applied after the preset)")
    parser.add_argument("--data", help="training data: AM-2k / P3M-10k root or image+alpha folders (data.root)")
    parser.add_argument("--backgrounds", help="COMP-Track backgrounds: BG-20k root or a COCO image folder (data.backgrounds)")
    parser.add_argument("--validation", help="real validation images with ground truth, AM-2k / P3M layout (data.validation)")
    parser.add_argument("--backbone-weights", help="torchvision ImageNet checkpoint of the backbone (model.backbone_weights)")
    parser.add_argument("--out", help="run folder (log.out; default runs/PRESET)")
    parser.add_argument("--steps", type=positive_int, help="stop after this many optimiser steps (optim.steps)")
    parser.add_argument("--epochs", type=positive_int, help="number of epochs (optim.epochs)")
    parser.add_argument("--batch-size", type=positive_int, help="batch size per process (optim.batch_size)")
    parser.add_argument("--workers", type=non_negative_int, help="data-loader worker processes (data.workers; default 2, or 0 when an "
                        "epoch has fewer than 8 batches, as with the example photos)")
    parser.add_argument("--device", help="auto, cpu, cuda (optim.device)")
    parser.add_argument("--threads", type=positive_int,
                        help="PyTorch CPU threads a training process (optim.threads; default: its share of the cores "
                        "minus the loader workers)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override any setting (repeatable)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its newest checkpoint")
    add_progress_option(parser)
    parser.add_argument("--list-presets", action="store_true", help="print the preset names and exit")
    parser.add_argument("--print-config", action="store_true", help="print the resolved configuration and exit")
    parser.set_defaults(func=run)


def _overrides(args: argparse.Namespace) -> list[str]:
    flags = {
        "data.root": args.data,
        "data.backgrounds": args.backgrounds,
        "data.validation": args.validation,
        "model.backbone_weights": args.backbone_weights,
        "log.out": args.out,
        "optim.steps": args.steps,
        "optim.epochs": args.epochs,
        "optim.batch_size": args.batch_size,
        "data.workers": args.workers,
        "optim.device": args.device,
        "optim.threads": args.threads,
    }
    progress = ["log.progress=false"] if args.no_progress else []
    return [f"{key}={value}" for key, value in flags.items() if value is not None] + progress + list(args.overrides)


def run(args: argparse.Namespace) -> int:
    from gfm.engine import config as cfg
    from gfm.errors import ConfigError

    if args.list_presets:
        for name, (_, _, _, description) in cfg.TRACKS.items():
            print(f"{name}: {description}")
        print("\n" + "\n".join(cfg.preset_names()))
        return 0
    overrides = _overrides(args)
    if args.resume:
        if not args.out:
            raise ConfigError("--resume needs --out RUN_FOLDER (the run to continue)")
        saved = Path(args.out) / "config.yaml"
        if not saved.is_file():
            raise ConfigError(f"{saved}: not found; is {args.out} a gfm run folder?")
        config = cfg.from_dict(cfg.load_yaml(saved))
        for text in overrides:
            cfg.merge(config, cfg.parse_override(text), source=f"--set {text}")
        config = cfg.validate(config)
    else:
        if not args.preset and not args.config:
            raise ConfigError("give --preset NAME (see --list-presets) or --config FILE")
        config = cfg.build_config(args.preset, args.config, overrides)
    if args.print_config:
        print(cfg.dump_yaml(config), end="")
        return 0

    from gfm.engine.data import build_training_dataset, build_validation
    from gfm.engine.distributed import shutdown_distributed
    from gfm.engine.trainer import train

    dataset = build_training_dataset(config)
    validation = build_validation(config)
    try:
        summary = train(config, dataset, validation=validation, resume=args.resume)
    finally:
        shutdown_distributed()
    losses = ", ".join(f"{k}={v:.4f}" for k, v in summary.last_losses.items())
    line = f"{summary.run_dir}: {_count(summary.steps, 'step')}, {_count(summary.epochs_completed, 'epoch')} completed"
    print(line + (f"; last losses {losses}" if losses else ""))
    if summary.best_sad is not None:
        print(f"best validation SAD {summary.best_sad:.3f}")
    if summary.skipped_items:
        print(f"note: {summary.skipped_items} unreadable training item(s) were replaced by readable ones (named above); "
              "--set data.strict=true makes such a file stop the run", file=sys.stderr)
    if summary.weights is not None:
        print(f"weights: {summary.weights} (gfm matte --model {summary.run_dir} ... uses them)")
    return 0


def _count(n: int, noun: str) -> str:
    """``1 step``, ``3 steps``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
