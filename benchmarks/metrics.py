"""Speed of the matting metrics on realistic mattes.

Prints the median time of each metric (public function, input checks
included) and of ``evaluate_alpha`` (all ten at once) for a 1080p
(1620 x 1080) and a 12-megapixel (4000 x 3000) matte, and the speed-up of the
fast connectivity metric over

* the slow reference the tests use (``tests/unit/metrics_reference.py``), and
* a transcription of the released implementation's loop (the reference plus
  its unused per-threshold distance transform and coordinate-list omega);
  with scikit-image importable, the released code's exact calls
  (``skimage.measure.label`` + ``regionprops``) are timed as well.

The mattes are a fixture ground truth (tests/data/metrics/sample1_gt.png)
upscaled bilinearly; the prediction is that matte blurred (sigma 2 px), with
Gaussian noise (std 0.02) in the transition band and a few false-positive
blobs, quantised to 8 bits like a PNG prediction.

Usage::

    PYTHONPATH=src python benchmarks/metrics.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests" / "unit"))

from gfm.metrics import matting, trimap_from_alpha  # noqa: E402
from metrics_reference import conn_reference  # noqa: E402


def make_mattes(width: int, height: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    gt8 = cv2.imread(str(ROOT / "tests" / "data" / "metrics" / "sample1_gt.png"), cv2.IMREAD_GRAYSCALE)
    gt8 = cv2.resize(gt8, (width, height), interpolation=cv2.INTER_LINEAR)
    gt = gt8.astype(np.float64) / 255
    rng = np.random.default_rng(seed)
    pred = cv2.GaussianBlur(gt, (0, 0), 2.0)
    band = (gt > 0) & (gt < 1)
    pred[band] += rng.normal(0.0, 0.02, int(band.sum()))
    for _ in range(20):  # false-positive blobs in the background
        y, x = int(rng.integers(0, height)), int(rng.integers(0, width))
        cv2.circle(pred, (x, y), int(rng.integers(3, 15)), float(rng.uniform(0.2, 0.9)), -1)
    pred8 = np.clip(np.rint(pred * 255), 0, 255).astype(np.uint8)
    return pred8.astype(np.float64) / 255, gt, trimap_from_alpha(gt)


def released_loop(pred: np.ndarray, gt: np.ndarray, skimage: bool) -> float:
    """The released algorithm's loop, distance transform included."""
    from scipy import ndimage

    h, w = pred.shape
    thresholds = np.arange(0, 1.1, 0.1)
    l_map = -1 * np.ones((h, w), dtype=np.float32)
    for i in range(1, thresholds.size):
        common = (pred >= thresholds[i]) & (gt >= thresholds[i])
        if skimage:
            from skimage.measure import label, regionprops

            regions = regionprops(label(common, connectivity=1))
            if not regions:
                continue
            coords = regions[int(np.argmax([r.area for r in regions]))].coords
        else:
            labels, count = ndimage.label(common)
            if count == 0:
                continue
            coords = np.argwhere(labels == int(np.argmax(np.bincount(labels.ravel())[1:])) + 1)
        omega = np.zeros((h, w), dtype=np.float32)
        omega[coords[:, 0], coords[:, 1]] = 1
        l_map[(l_map == -1) & (omega == 0)] = thresholds[i - 1]
        dist = ndimage.distance_transform_edt(omega == 0)  # unused, as in the released code
        dist = dist / dist.max()
    l_map[l_map == -1] = 1
    d_pred, d_gt = pred - l_map, gt - l_map
    phi_pred = 1 - d_pred * (d_pred >= 0.15).astype(np.float32)
    phi_gt = 1 - d_gt * (d_gt >= 0.15).astype(np.float32)
    return float(np.sum(np.abs(phi_pred - phi_gt)) / 1000)


def median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up (imports, caches)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs a figure (median); default 5")
    parser.add_argument("--no-reference", action="store_true", help="skip the slow reference timings")
    args = parser.parse_args()

    try:
        import skimage  # noqa: F401

        have_skimage = True
    except ImportError:
        have_skimage = False

    print(f"command: {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, opencv {cv2.__version__}, "
        f"cpus {os.cpu_count()}, opencv threads {cv2.getNumThreads()}, "
        f"scikit-image {'yes' if have_skimage else 'not installed'}"
    )
    print(f"median of {args.repeats} runs, seconds\n")

    single = {
        "SAD": lambda p, g, t: matting.sad(p, g),
        "MSE": lambda p, g, t: matting.mse(p, g),
        "MAD": lambda p, g, t: matting.mad(p, g),
        "GRAD": lambda p, g, t: matting.grad(p, g),
        "CONN": lambda p, g, t: matting.conn(p, g),
        "SAD_TRAN": matting.sad_tran,
        "MSE_TRAN": matting.mse_tran,
        "MAD_TRAN": matting.mad_tran,
        "SAD_FG": matting.sad_fg,
        "SAD_BG": matting.sad_bg,
    }
    for width, height in ((1620, 1080), (4000, 3000)):
        pred, gt, trimap = make_mattes(width, height)
        print(f"== {width} x {height} ({width * height / 1e6:.1f} MP)")
        for name, fn in single.items():
            seconds = median_time(lambda fn=fn: fn(pred, gt, trimap), args.repeats)
            print(f"  {name:<10s} {seconds:8.4f}")
        total = median_time(lambda: matting.evaluate_alpha(pred, gt, trimap), args.repeats)
        print(f"  {'all ten (evaluate_alpha)':<24s} {total:8.4f}")
        if args.no_reference:
            print()
            continue
        fast = median_time(lambda: matting.conn(pred, gt), args.repeats)
        value = matting.conn(pred, gt)
        assert conn_reference(pred, gt) == value
        reference = median_time(lambda: conn_reference(pred, gt), max(1, args.repeats // 2))
        print(f"  CONN fast {fast:.4f}; test reference {reference:.4f} -> {reference / fast:.1f}x")
        released = median_time(lambda: released_loop(pred, gt, False), max(1, args.repeats // 2))
        print(f"  released loop (scipy label, with EDT) {released:.4f} -> {released / fast:.1f}x")
        if have_skimage:
            assert released_loop(pred, gt, True) == value
            exact = median_time(lambda: released_loop(pred, gt, True), max(1, args.repeats // 2))
            print(f"  released loop (skimage label+regionprops, EDT) {exact:.4f} -> {exact / fast:.1f}x")
        print()


if __name__ == "__main__":
    main()
