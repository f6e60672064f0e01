"""Data-loader throughput: samples/s at 320 x 320 with N workers.

Builds a temporary data set of full-resolution foregrounds (the demo pairs of
tests/data/am2k upscaled to 1620 px wide, or --foregrounds DIR with
original/ + mask/) and synthetic 1920 x 1080 backgrounds, fills the cache
(multi-level foregrounds; the "denoised" entries are copies, since only
loading is timed here), then times a DataLoader over MattingDataset
(ORI-Track) and CompositeDataset (RSSN, k = 5).

Usage:
    PYTHONPATH=src python benchmarks/bench_dataloader.py [--workers 2] [--batches 10] [--batch-size 8]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader

from gfm.data.augment import AugmentConfig
from gfm.data.cache import Cache, CacheReader, default_cache_dir, image_key
from gfm.data.dataset import CompositeDataset, MattingDataset
from gfm.data.files import read_pair
from gfm.data.layouts import background_split, matting_split
from gfm.data.prepare import foreground_tasks, run_tasks
from gfm.io import write_alpha, write_image

REPO = Path(__file__).resolve().parents[1]


def build(tmp: Path, foregrounds: Path | None, n_backgrounds: int) -> tuple[Path, Path]:
    fg_root, bg_root = tmp / "fg", tmp / "bg"
    src = matting_split(foregrounds or REPO / "tests" / "data" / "am2k").require_complete()
    for s in src.samples:
        image, alpha = read_pair(s.image, s.alpha)
        if image.shape[1] < 1620:
            size = (1620, round(image.shape[0] * 1620 / image.shape[1]))
            image = cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)
            alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_CUBIC)
        write_image(fg_root / "original" / f"{s.name}.jpg", image)
        write_alpha(fg_root / "mask" / f"{s.name}.png", alpha / 255.0)
    rng = np.random.default_rng(0)
    for i in range(n_backgrounds):
        field = cv2.resize(rng.uniform(0, 255, (27, 48, 3)).astype(np.float32), (1920, 1080))
        noisy = np.clip(field + rng.normal(0, 4, field.shape), 0, 255).astype(np.uint8)
        write_image(bg_root / f"b{i:02d}.jpg", noisy)
    split = matting_split(fg_root)
    cache = Cache(default_cache_dir(fg_root))
    run_tasks(foreground_tasks(split.samples, cache, "ml"), workers=2, progress=False)
    for s in split.samples:  # stand-ins for denoised foregrounds
        out = cache.denoised_foreground(s.key, "ml", "bm3d")
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(cache.foreground(s.key, "ml"), out)
    bg_cache = Cache(default_cache_dir(bg_root))
    for p in background_split(bg_root).images:
        out = bg_cache.denoised_image(image_key(p, bg_root), "bm3d")
        out.parent.mkdir(parents=True, exist_ok=True)
        write_image(out, cv2.imread(str(p))[..., ::-1].copy())
    return fg_root, bg_root


def time_loader(ds: torch.utils.data.Dataset, workers: int, batch_size: int, batches: int) -> float:
    loader = DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=workers, drop_last=True)
    n, start = 0, None
    for i, batch in enumerate(loader):
        if i == 1:  # exclude worker start-up and the first batch
            start, n = time.perf_counter(), 0
        elif i > 1:
            n += batch["image"].shape[0]
        if i == batches:
            break
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--foregrounds", type=Path)
    parser.add_argument("--rosta", default="TT")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        fg_root, bg_root = build(Path(tmp), args.foregrounds, 12)
        samples = matting_split(fg_root).samples
        reader = CacheReader(Cache(default_cache_dir(fg_root)), "ml", "bm3d",
                             background_cache=Cache(default_cache_dir(bg_root)))
        aug = AugmentConfig()
        ori = MattingDataset(samples * 20, rosta=args.rosta, augment=aug, cache=reader)
        comp = CompositeDataset(samples * 4, background_split(bg_root), reader, rosta=args.rosta, augment=aug)
        shape = read_pair(samples[0].image, samples[0].alpha)[0].shape
        print(f"foregrounds {len(samples)} x {shape[1]}x{shape[0]}, backgrounds 1920x1080, "
              f"out 320x320, RoSTa {args.rosta}, batch {args.batch_size}, workers {args.workers}")
        for name, ds in (("ORI-Track MattingDataset (+ cached F, B)", ori), ("COMP-Track CompositeDataset (RSSN)", comp)):
            rate = time_loader(ds, args.workers, args.batch_size, args.batches)
            print(f"{name}: {rate:.1f} samples/s")
    print(f"command: {' '.join([sys.executable, *sys.argv])}")


if __name__ == "__main__":
    main()
