"""``gfm export``: a GFM model -> an ONNX file for onnxruntime (no PyTorch needed to run it)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a model to ONNX (fp32 or int8) for onnxruntime",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Write MODEL as an ONNX file that `gfm matte --model OUT.onnx` (or\n"
            "gfm.inference.onnx_runtime.OnnxPredictor) runs through onnxruntime, without PyTorch.\n"
            "The graph takes the glance pass's and the focus pass's inputs (float32 RGB in 0..255,\n"
            "(1, 3, H, W), any H and W that are multiples of 32, each input its own size) and returns\n"
            "the glance logits and the focus alpha; the input normalisation is part of the graph. The\n"
            "file's metadata names the model, its variant, the normalisation and the strategies.\n"
            "The export is checked against PyTorch on two sizes (largest difference printed; an\n"
            "fp32 export differing by more than 1e-4 is an error). RIM models cannot be exported."
        ),
        epilog=(
            "examples:\n"
            "  gfm export gfm-lite gfm-lite.onnx\n"
            "  gfm export gfm-lite gfm-lite-int8.onnx --quantize int8\n"
            "  gfm matte photo.jpg --model gfm-lite.onnx --out cutouts/"
        ),
    )
    parser.add_argument("model", metavar="MODEL", help="weights name (e.g. gfm-lite, gfm-r34-tt), checkpoint file or `gfm train` run folder")
    parser.add_argument("output", type=Path, metavar="OUT.onnx", help="the ONNX file to write")
    parser.add_argument("--quantize", choices=["none", "int8"], default="none",
                        help="none: fp32 (default); int8: onnxruntime's dynamic int8 quantisation of the convolutions "
                        "(4x smaller file; docs/onnx.md has its measured quality and speed)")
    parser.add_argument("--rosta", choices=["FT", "BT"], help="for a released 2-class checkpoint file: which RoSTa it is")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT.onnx if it exists")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gfm.errors import OutputError

    if args.output.suffix.lower() != ".onnx":
        raise OutputError(f"{args.output}: name the output file NAME.onnx (e.g. {args.output.with_suffix('.onnx')})")
    if args.output.exists() and not args.overwrite and not args.output.is_dir():
        raise OutputError(f"{args.output}: already exists; pass --overwrite to replace it")

    from gfm.inference.models import load_model_spec
    from gfm.inference.onnx_export import export_onnx

    model = load_model_spec(args.model, rosta=args.rosta, progress=sys.stderr.isatty())
    info = export_onnx(model, args.output, model_name=args.model, quantize=args.quantize, overwrite=args.overwrite)
    precision = "fp32" if info.quantization == "none" else info.quantization
    print(f"{args.model} ({info.variant}) -> {info.path}: {info.size_bytes / 1e6:.1f} MB, {precision}, "
          f"largest difference to PyTorch {info.max_difference:.2g}")
    return 0
