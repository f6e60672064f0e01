"""RSSN's foreground colours by method: how far ``fast`` and ``ml`` are from the closed form.

    python benchmarks/rssn_foreground.py                     # the example photos, each over the others
    python benchmarks/rssn_foreground.py --photos DIR        # NAME.jpg + NAME.png (its matte) in DIR

``gfm prepare foregrounds`` / ``gfm compose`` cache ``F`` and ``B`` per photo; the paper
uses the closed form (``cf``), which costs seconds per megapixel. Protocol: ``F`` and
``B`` of each photo by ``cf`` are the truth; the photo's ``F`` is composed over another
photo of the set (``I = alpha F + (1 - alpha) B2``, B2 fitted by :func:`gfm.data.compose.cover`
-like resizing), and each method estimates ``(F, B)`` from ``I`` and the alpha:

* F error: mean of ``alpha |F_est - F|`` over the transition band (``0 < alpha < 1``),
  divided by the band's mean alpha (0..255 levels, channels averaged);
* B error: the same with ``1 - alpha`` and ``B2``;
* time: seconds per photo (one worker), medians.

cf's own error shows what the closed form reaches from a composite (its prior is the
truth's, so this protocol favours it); the printout gives the command line.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from gfm.data.foreground import estimate_foreground, load_pymatting

ROOT = Path(__file__).parents[1]


def _pairs(photos: Path | None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    if photos is None:
        images, mattes = ROOT / "examples" / "original", ROOT / "examples" / "mask"
    else:
        images = mattes = photos
    out = []
    for image in sorted(images.glob("*.jpg")):
        matte = mattes / f"{image.stem}.png"
        if matte.is_file():
            out.append((image.stem, np.asarray(Image.open(image).convert("RGB")), np.asarray(Image.open(matte).convert("L"))))
    return out


def _error(estimate: np.ndarray, truth: np.ndarray, weight: np.ndarray, band: np.ndarray) -> float:
    diff = np.abs(estimate.astype(np.float32) - truth.astype(np.float32)).mean(axis=2)
    return float((weight[band] * diff[band]).sum() / weight[band].sum())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path)
    parser.add_argument("--methods", nargs="+", default=["fast", "ml", "cf"])
    args = parser.parse_args()
    print(f"command: python {' '.join(sys.argv)}")
    load_pymatting()
    pairs = _pairs(args.photos)
    estimate_foreground(pairs[0][1][:64, :64].copy(), pairs[0][2][:64, :64].copy(), "fast")  # compile / load first
    rows: dict[str, dict[str, list[float]]] = {m: {"F": [], "B": [], "s": []} for m in args.methods}
    for index, (name, image, matte) in enumerate(pairs):
        truth_f, _ = estimate_foreground(image, matte, "cf")
        _, other, _ = pairs[(index + 1) % len(pairs)]
        background = cv2.resize(other, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_AREA)
        a = matte.astype(np.float32)[..., None] / 255.0
        composite = np.clip(np.rint(a * truth_f + (1 - a) * background), 0, 255).astype(np.uint8)
        band = (matte > 0) & (matte < 255)
        for method in args.methods:
            start = time.perf_counter()
            f, b = estimate_foreground(composite, matte, method)
            rows[method]["s"].append(time.perf_counter() - start)
            rows[method]["F"].append(_error(f, truth_f, a[..., 0], band))
            rows[method]["B"].append(_error(b, background, 1 - a[..., 0], band))
        print(f"  {name}: {image.shape[1]}x{image.shape[0]}, band {band.mean():.1%}", flush=True)
    print(f"{len(pairs)} photos; transition-band error against cf's F and the true background (0..255 levels), time a photo:")
    for method, values in rows.items():
        print(f"  {method:5s} F {statistics.mean(values['F']):5.2f}   B {statistics.mean(values['B']):5.2f}   "
              f"{statistics.median(values['s']):6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
