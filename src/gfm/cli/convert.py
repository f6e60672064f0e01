"""``gfm convert``: a released GFM checkpoint -> this project's format."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert a released GFM checkpoint (.pth or .zip) to gfm's format with metadata",
        description=(
            "Read a released GFM checkpoint (any variant; aliases, unused keys, 'module.' prefixes "
            "and .zip archives handled), check that it fits the network exactly, and write it in "
            "gfm's format: config, input normalisation (raw 0..255 RGB for released weights), "
            "provenance and state_dict. The output loads with gfm.load_model(PATH)."
        ),
    )
    parser.add_argument("source", type=Path, help="released checkpoint (.pth, .ckpt or a .zip holding one)")
    parser.add_argument("output", type=Path, help="file to write (e.g. gfm-r34-tt.pth)")
    parser.add_argument("--rosta", choices=["FT", "BT"], help="for 2-class checkpoints, whose shapes cannot tell FT from BT")
    parser.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gfm.errors import GFMError
    from gfm.models.checkpoint import load_model, save_checkpoint

    if args.output.exists() and not args.overwrite:
        raise GFMError(f"{args.output}: already exists; pass --overwrite to replace it")
    model = load_model(args.source, rosta=args.rosta)
    meta = model.checkpoint_meta
    provenance = dict(meta.provenance, converted_from=args.source.name, source="released GFM checkpoint (JizhiziLi/GFM, MIT)")
    # Without --overwrite, a file that appeared at OUTPUT meanwhile is not replaced either.
    save_checkpoint(model, args.output, normalization=meta.normalization, provenance=provenance, replace=args.overwrite)
    print(f"{args.source} -> {args.output}: {meta.config.name}, input {meta.normalization.name}")
    return 0
