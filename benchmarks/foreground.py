"""Foreground colours: error against the true foreground on RSSN composites, and speed.

    nice -n 10 python benchmarks/foreground.py                       # photos of /work/shared/data, its backgrounds
    python benchmarks/foreground.py --photos DIR [DIR ...] --backgrounds DIR [--skip-cf] [--repeats 9]

Each photo (``NAME.jpg`` with its reference matte ``NAME.png`` in the same
folder) is given foreground colours ``F`` as ``gfm compose`` gives them (the
closed form of Levin et al., the paper's RSSN; cached in --cache) and composed
by the project's RSSN code (``gfm.data.compose``: the background fitted at a
random place, box blur and noise each with probability 0.5; no denoising, whose
BM3D images are not at hand) over a background drawn from --backgrounds. So
``I = alpha F + (1 - alpha) B`` holds with ``F`` known. Each method then
estimates ``F`` from ``I`` and the alpha, as ``gfm matte`` does
(:func:`gfm.inference.foreground.estimate_foreground`), and the error is

* ``all``: the mean over pixels of ``alpha |F_est - F_true|`` (the three
  channels averaged) divided by the mean of ``alpha`` (0..255 levels): what a
  cutout shows, ``alpha`` times the colour error;
* ``band``: the same over the pixels with ``0 < alpha < 1`` only,

averaged over the photos (each photo counts once). The truth is the closed
form's colours, whose smoothness prior pymatting's multi-level method ("ml")
and "fast" (the same energy, solved on the transition band) approximate: this
protocol favours them and "cf" (which solves the very energy that made the
truth) over methods with another prior, such as "blur".

Time: every method on the composites of the 1620x1080 photos (or the first
photo resized to that size), in interleaved rounds (--repeats rounds over
those photos; "cf" once, on the first), with --threads threads; medians, and
the median of each method's time over "ml"'s time on the same photo in the
same round (robust to a shared, busy machine). "blur" works on the transition
band only, so its time grows with the band's share of the photo (printed).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

DEFAULT_PHOTOS = [Path("/work/shared/data") / name for name in ("am2k-demo", "p3m-demo", "aim-demo")]
DEFAULT_BACKGROUNDS = Path("/work/gfm-lite/backgrounds")
TIMING_SIZE = (1080, 1620)  # rows, columns


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, nargs="+", default=DEFAULT_PHOTOS, help="folders of NAME.jpg + NAME.png matte")
    parser.add_argument("--backgrounds", type=Path, default=DEFAULT_BACKGROUNDS, help="folder of background images")
    parser.add_argument("--methods", default="fast,ml,cf,blur,none", help="comma-separated methods (default fast,ml,cf,blur,none)")
    parser.add_argument("--skip-cf", action="store_true", help="leave out the closed form (about 13 s a 1.6 MP photo)")
    parser.add_argument("--limit", type=int, help="only the first N photos")
    parser.add_argument("--repeats", type=int, default=9, help="timing rounds (default 9; cf once)")
    parser.add_argument("--threads", type=int, default=2, help="threads (OpenCV, numba, OpenMP; default 2)")
    parser.add_argument("--seed", type=int, default=0, help="composition seed (default 0)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "gfm-benchmarks" / "foreground",
                        help="where the photos' closed-form colours are kept between runs")
    parser.add_argument("--per-photo", action="store_true", help="also print each photo's band errors")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    for variable in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(args.threads)  # before numpy, numba and OpenCV start their pools

    import cv2
    import numpy as np

    from gfm.data.compose import RouteConfig, compose, sample_choices
    from gfm.inference.foreground import estimate_foreground
    from gfm.io import read_alpha, read_image, write_image

    cv2.setNumThreads(args.threads)
    methods = [m for m in args.methods.split(",") if m and not (args.skip_cf and m == "cf")]
    photos = sorted(p for folder in args.photos for p in folder.glob("*.jpg") if p.with_suffix(".png").is_file())
    photos = photos[: args.limit] if args.limit else photos
    backgrounds = sorted(p for p in args.backgrounds.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not photos or not backgrounds:
        sys.exit(f"need photos with mattes (got {len(photos)} under {args.photos}) and backgrounds ({len(backgrounds)} in {args.backgrounds})")
    # RSSN's blur and noise (probability 0.5 each); denoising needs BM3D images that are not at hand
    route = RouteConfig("rssn", p_denoise_fg=0.0, p_denoise_bg=0.0)
    rng = np.random.default_rng(args.seed)
    args.cache.mkdir(parents=True, exist_ok=True)

    def truth_colours(photo: Path, image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        cached = args.cache / f"{photo.parent.name}-{photo.stem}-{image.shape[1]}x{image.shape[0]}-cf.png"
        if cached.is_file():
            return read_image(cached)
        colours = estimate_foreground(image, alpha, "cf")
        write_image(cached, colours)
        return colours

    def errors(estimate: np.ndarray, truth: np.ndarray, alpha: np.ndarray) -> tuple[float, float]:
        difference = np.abs(estimate.astype(np.float32) - truth.astype(np.float32)).mean(axis=2)
        band = (alpha > 0) & (alpha < 1)
        weighted = difference * alpha
        return float(weighted.sum() / alpha.sum()), float(weighted[band].sum() / alpha[band].sum())

    results: dict[str, list[tuple[float, float]]] = {m: [] for m in methods}
    timing: list[tuple[Path, np.ndarray, np.ndarray]] = []  # 1620x1080 composites
    for index, photo in enumerate(photos):
        image = read_image(photo)
        alpha8 = np.rint(read_alpha(photo.with_suffix(".png")) * 255).astype(np.uint8)
        alpha = alpha8.astype(np.float32) / 255
        truth = truth_colours(photo, image, alpha)
        which = int(rng.integers(len(backgrounds)))
        background = read_image(backgrounds[which])
        sample = compose(truth, alpha8, background, sample_choices(rng, route, which, background.shape[:2], truth.shape[:2]))
        if image.shape[:2] == TIMING_SIZE:
            timing.append((photo, sample.image, alpha))
        line = []
        for method in methods:
            results[method].append(errors(estimate_foreground(sample.image, alpha, method), sample.fg, alpha))
            line.append(f"{method} {results[method][-1][1]:.2f}")
        print(f"[{index + 1}/{len(photos)}] {photo.parent.name}/{photo.name}: band error {', '.join(line)}", file=sys.stderr, flush=True)
        if args.per_photo:
            print(f"  {photo.parent.name}/{photo.name} ({100 * ((alpha > 0) & (alpha < 1)).mean():.0f}% transition): "
                  + ", ".join(f"{m} {results[m][-1][1]:.2f}" for m in methods))

    if not timing:  # no photo of that size: the first one, resized
        photo = photos[0]
        image = cv2.resize(read_image(photo), TIMING_SIZE[::-1], interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(read_alpha(photo.with_suffix(".png")), TIMING_SIZE[::-1], interpolation=cv2.INTER_AREA)
        timing.append((photo, image, alpha))
    for method in methods:  # warm-up: numba's compiled code, OpenCV's thread pool
        estimate_foreground(timing[0][1][:200, :200], timing[0][2][:200, :200], method)
    times: dict[str, list[float]] = {m: [] for m in methods}
    ratios: dict[str, list[float]] = {m: [] for m in methods}
    load_before = os.getloadavg()
    for round_ in range(args.repeats):
        for number, (_, image, alpha) in enumerate(timing):
            spent = {}
            for method in methods:
                if method == "cf" and (round_ > 0 or number > 0):
                    continue
                start = time.perf_counter()
                estimate_foreground(image, alpha, method)
                spent[method] = time.perf_counter() - start
                times[method].append(spent[method])
            if "ml" in spent:
                for method, seconds in spent.items():
                    ratios[method].append(seconds / spent["ml"])
    load_after = os.getloadavg()

    print(f"Foreground colours on {len(photos)} RSSN composites (true F: closed form of each photo; seed {args.seed})")
    bands = ", ".join(f"{p.parent.name}/{p.name} {100 * ((a > 0) & (a < 1)).mean():.0f}%" for p, _, a in timing)
    print(f"time: {len(timing)} composite(s) at {TIMING_SIZE[1]}x{TIMING_SIZE[0]} (transition band: {bands}), "
          f"{args.threads} threads, median of {args.repeats} interleaved rounds (cf: once)")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average "
          f"{load_before[0]:.1f} before, {load_after[0]:.1f} after")
    print()
    print(f"| method | error, alpha-weighted (0..255) | error in the transition band | time (ms) | time / ml (same round) |")
    print("|---|---|---|---|---|")
    for method in methods:
        all_error, band_error = np.array(results[method]).mean(axis=0)
        ratio = f"{statistics.median(ratios[method]):.3f}" if ratios[method] else "-"
        print(f"| {method} | {all_error:.2f} | {band_error:.2f} | {1000 * statistics.median(times[method]):.1f} | {ratio} |")
    if "ml" in methods:
        for method in methods:
            if method != "ml":
                wins = sum(r[1] <= b[1] for r, b in zip(results[method], results["ml"]))
                print(f"{method}: band error no worse than ml on {wins} of {len(photos)} photos")
    print()
    print("command: " + " ".join(["nice -n 10" if os.nice(0) >= 10 else "", sys.executable, *sys.argv]).strip())


if __name__ == "__main__":
    main()
