"""What reduced precision costs in quality: bf16 against fp32 on photos with reference mattes.

    python benchmarks/precision.py                                   # the README's example photos (3, held out)
    python benchmarks/precision.py --images HELD/original --alphas HELD/mask --strategies single hybrid
    python benchmarks/precision.py --device cuda                     # the same on a GPU

For every photo the model runs at fp32 and at bf16 (autocast) with the same
strategy. Printed per strategy:

* SAD (thousands, the released evaluation's convention) and MSE of each
  precision against the reference, and their change;
* how far the bf16 alpha is from the fp32 alpha itself: the mean absolute
  difference in 8-bit levels, its 99.9th percentile, and the share of pixels
  more than 4 levels apart.

``--precision auto`` chooses bf16 only for weights whose figures here stay
under :data:`gfm.inference.precision.VISIBLE_CHANGE` (see that module). The
photos must not have been seen in training: the examples and the recipe's
held-out set are not.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import numpy as np
import torch

from gfm.data.layouts import IMAGE_SUFFIXES
from gfm.inference import Predictor
from gfm.io import read_alpha, read_image
from gfm.metrics import mse, sad

ROOT = Path(__file__).parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="weights name or file (default: the bundled default model)")
    parser.add_argument("--images", type=Path, default=ROOT / "examples/original")
    parser.add_argument("--alphas", type=Path, default=ROOT / "examples/mask")
    parser.add_argument("--strategies", nargs="+", default=["single", "hybrid"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    photos = sorted(p for p in args.images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    pairs = [(p, next(args.alphas.glob(p.stem + ".*"))) for p in photos]
    print(f"python {' '.join(sys.argv)}")
    print(f"{len(pairs)} photos from {args.images}; device {args.device}; {platform.processor() or platform.machine()}; "
          f"torch {torch.__version__}; {args.threads} threads\n")
    print("| strategy | SAD fp32 | SAD bf16 | change | MSE fp32 | MSE bf16 | mean |bf16-fp32| (levels) | p99.9 (levels) | pixels > 4 levels |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for strategy in args.strategies:
        fp32 = Predictor.from_name(args.model, strategy, device=args.device, precision="fp32")
        bf16 = Predictor.from_name(args.model, strategy, device=args.device, precision="bf16")
        sads = {"fp32": [], "bf16": []}
        mses = {"fp32": [], "bf16": []}
        diffs = []
        for photo, matte in pairs:
            image, reference = read_image(photo), read_alpha(matte)
            alphas = {"fp32": fp32.predict(image).alpha, "bf16": bf16.predict(image).alpha}
            for name, alpha in alphas.items():
                sads[name].append(sad(alpha, reference))
                mses[name].append(mse(alpha, reference))
            diffs.append(np.abs(alphas["bf16"] - alphas["fp32"]).ravel() * 255.0)
        levels = np.concatenate(diffs)
        sad32, sad16 = np.mean(sads["fp32"]), np.mean(sads["bf16"])
        print(f"| {strategy} | {sad32:.2f} | {sad16:.2f} | {100 * (sad16 - sad32) / sad32:+.1f}% | {np.mean(mses['fp32']):.4f} | "
              f"{np.mean(mses['bf16']):.4f} | {levels.mean():.2f} | {np.percentile(levels, 99.9):.1f} | {100 * np.mean(levels > 4):.2f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
