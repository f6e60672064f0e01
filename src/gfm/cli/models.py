"""``gfm models``: list the network variants and their sizes."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the GFM network variants (backbone x RoSTa) and their parameter counts",
        description="List every GFM variant this package builds, with the parameters its forward pass uses.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--tiny", action="store_true", help="include the tiny test backbone")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from gfm.models.registry import create_model, get_backbone, list_backbones

    rows = []
    for backbone in list_backbones():
        if backbone == "tiny" and not args.tiny:
            continue
        spec = get_backbone(backbone)
        for rosta in ("TT", "FT", "BT", "RIM"):
            with torch.device("meta"):  # shapes only: no memory, no time
                model = create_model(backbone, rosta)
            params = sum(p.numel() for p in model.parameters())
            rows.append({"variant": f"{backbone}-{rosta}", "backbone": backbone, "rosta": rosta, "parameters": params, "description": spec.description})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'variant':<12} {'parameters':>13}  backbone")
    for row in rows:
        print(f"{row['variant']:<12} {row['parameters']:>13,}  {row['description']}")
    return 0
