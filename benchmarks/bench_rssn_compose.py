"""Time composing one RSSN training sample at 1620 x 1080 on one core.

Inputs are what training has in memory after reading the cache: the
foreground colours, the alpha, a 1920 x 1080 background and the denoised
versions of both. Three cases: the worst case (denoised foreground and
background, blur 60, noise), the RSSN draw distribution (random choices), and
the same plus reading the inputs from PNG/JPEG files as the dataset does.

Usage:
    PYTHONPATH=src python benchmarks/bench_rssn_compose.py [--fg IMAGE --alpha MATTE] [--repeat 30]

Without --fg/--alpha a synthetic foreground is used (composition time does
not depend on content).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from gfm.data.compose import CompositionChoices, compose, route_config, sample_choices  # noqa: E402
from gfm.io import read_image, write_image  # noqa: E402


def _stats(times: list[float]) -> str:
    t = np.array(times) * 1000
    return f"median {np.median(t):6.1f} ms  p90 {np.percentile(t, 90):6.1f} ms  min {t.min():6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fg", type=Path)
    parser.add_argument("--alpha", type=Path)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    cv2.setNumThreads(1)  # one core
    rng = np.random.default_rng(0)
    h, w = 1080, 1620
    if args.fg and args.alpha:
        from gfm.data.files import read_pair

        fg, alpha = read_pair(args.fg, args.alpha)
        fg = cv2.resize(fg, (w, h), interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_AREA)
    else:
        fg = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        alpha = np.zeros((h, w), np.uint8)
        cv2.ellipse(alpha, (w // 2, h // 2), (500, 400), 0, 0, 360, 255, -1)
        alpha = cv2.GaussianBlur(alpha, (41, 41), 0)
    bg = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    fg_dn, bg_dn = fg.copy(), bg.copy()
    cfg = route_config("rssn")

    base = sample_choices(rng, cfg, 0, bg.shape[:2], alpha.shape)
    worst = CompositionChoices(0, base.fit, True, True, 60, True, 1)
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        compose(fg, alpha, bg, worst, fg_denoised=fg_dn, bg_denoised=bg_dn)
        times.append(time.perf_counter() - t)
    print(f"worst case (denoised fg+bg, blur 60, noise): {_stats(times)}")

    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        c = sample_choices(rng, cfg, 0, bg.shape[:2], alpha.shape)
        compose(fg, alpha, bg, c, fg_denoised=fg_dn, bg_denoised=bg_dn)
        times.append(time.perf_counter() - t)
    print(f"RSSN random choices:                          {_stats(times)}")

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        write_image(d / "fg.png", fg)
        write_image(d / "fg_dn.png", fg_dn)
        write_image(d / "bg.jpg", bg)
        write_image(d / "bg_dn.png", bg_dn)
        from gfm.io import write_alpha

        write_alpha(d / "alpha.png", alpha / 255.0)
        from gfm.data.files import read_matte

        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            c = sample_choices(rng, cfg, 0, bg.shape[:2], alpha.shape)
            f, a, b = read_image(d / "fg.png"), read_matte(d / "alpha.png"), read_image(d / "bg.jpg")
            fd = read_image(d / "fg_dn.png") if c.denoise_fg else None
            bd = read_image(d / "bg_dn.png") if c.denoise_bg else None
            compose(f, a, b, c, fg_denoised=fd, bg_denoised=bd)
            times.append(time.perf_counter() - t)
        print(f"RSSN random choices + reading the cache files: {_stats(times)}")
    print(f"command: {' '.join([sys.executable, *sys.argv])}  (OpenCV threads: {cv2.getNumThreads()})")


if __name__ == "__main__":
    main()
