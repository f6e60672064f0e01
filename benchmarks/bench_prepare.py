"""Time the precomputation steps on one image: closed-form vs multi-level
foreground (pymatting) and BM3D vs OpenCV non-local means denoising.

Usage:
    PYTHONPATH=src python benchmarks/bench_prepare.py IMAGE ALPHA [--fg-width 1620] [--dn-width 810] [--skip-bm3d]

The foreground is timed at --fg-width px wide, the denoisers at --dn-width
(BM3D takes about a minute at 810 x 540 on one core).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402

from gfm.data.denoise import denoise, estimate_noise_sigma  # noqa: E402
from gfm.data.files import read_pair  # noqa: E402
from gfm.data.foreground import estimate_foreground  # noqa: E402


def _resize(x, width):  # noqa: ANN001, ANN202
    h, w = x.shape[:2]
    return cv2.resize(x, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image", type=Path)
    parser.add_argument("alpha", type=Path)
    parser.add_argument("--fg-width", type=int, default=1620)
    parser.add_argument("--dn-width", type=int, default=810)
    parser.add_argument("--skip-bm3d", action="store_true")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    image, alpha = read_pair(args.image, args.alpha)
    img, a = _resize(image, args.fg_width), _resize(alpha, args.fg_width)
    estimate_foreground(img[:64, :64], a[:64, :64], "cf")  # numba warm-up
    for method in ("ml", "cf"):
        t = time.perf_counter()
        estimate_foreground(img, a, method)
        print(f"foreground {method} at {img.shape[1]}x{img.shape[0]}: {time.perf_counter() - t:.2f} s")
    small = _resize(image, args.dn_width)
    print(f"estimated noise sigma: {estimate_noise_sigma(small):.2f} (0..255)")
    for method in ("nlm",) + (() if args.skip_bm3d else ("bm3d",)):
        t = time.perf_counter()
        denoise(small, method)
        print(f"denoise {method} at {small.shape[1]}x{small.shape[0]}: {time.perf_counter() - t:.2f} s")
    print(f"command: {' '.join([sys.executable, *sys.argv])}")


if __name__ == "__main__":
    main()
