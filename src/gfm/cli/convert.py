"""``gfm convert``: a released GFM checkpoint or a bare state dict -> this project's format."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert a released GFM checkpoint (.pth or .zip) to gfm's format with metadata",
        description=(
            "Read a released GFM checkpoint (any variant; aliases, unused keys, 'module.' prefixes "
            "and .zip archives handled) or a bare state dict in gfm's layout (torch.save(model.state_dict()); "
            "the variant is recognised from its keys), check that it fits the network exactly, and write it in "
            "gfm's format: config, input normalisation (raw 0..255 RGB for released weights), "
            "provenance and state_dict. The output loads with gfm.load_model(PATH)."
        ),
    )
    parser.add_argument("source", type=Path, help="released checkpoint (.pth, .ckpt or a .zip holding one)")
    parser.add_argument("output", type=Path, help="file to write (e.g. gfm-r34-tt.pth)")
    parser.add_argument("--rosta", choices=["FT", "BT"], help="for 2-class checkpoints, whose shapes cannot tell FT from BT")
    parser.add_argument("--normalization", choices=["raw255", "imagenet"],
                        help="input normalisation to record (default: what the file says; raw255 for released files "
                        "and bare state dicts; imagenet for a model trained by gfm train and saved as a bare state dict)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gfm.errors import GFMError
    from gfm.models.checkpoint import load_model, save_checkpoint
    from gfm.models.normalization import NORMALIZATIONS

    if args.output.exists() and not args.overwrite:
        raise GFMError(f"{args.output}: already exists; pass --overwrite to replace it")
    with warnings.catch_warnings():
        if args.normalization:  # the bare-state-dict warning is answered by --normalization
            warnings.simplefilter("ignore", UserWarning)
        model = load_model(args.source, rosta=args.rosta)
    meta = model.checkpoint_meta
    normalization = NORMALIZATIONS[args.normalization] if args.normalization else meta.normalization
    source = "released GFM checkpoint (JizhiziLi/GFM, MIT)" if meta.source == "released" else f"{meta.source} file"
    provenance = dict(meta.provenance, converted_from=args.source.name, source=source)
    # Without --overwrite, a file that appeared at OUTPUT meanwhile is not replaced either.
    save_checkpoint(model, args.output, normalization=normalization, provenance=provenance, replace=args.overwrite)
    print(f"{args.source} -> {args.output}: {meta.config.name}, input {normalization.name}")
    return 0
