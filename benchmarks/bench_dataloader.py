"""Data-loader throughput: samples/s at 320 x 320 with N workers.

Builds a temporary data set of full-resolution foregrounds (the demo pairs of
tests/data/am2k upscaled to 1620 px wide, or --foregrounds DIR with
original/ + mask/) and synthetic 1920 x 1080 backgrounds, fills the cache
(multi-level foregrounds; the "denoised" entries are copies, since only
loading is timed here), then times a DataLoader over MattingDataset
(ORI-Track) and CompositeDataset (RSSN, k = 5).

With --epochs N it also times N short epochs (--epoch-batches each) with workers
that start anew every epoch (gfm train before issue 20) and with persistent
workers fed (epoch, index) pairs (gfm train now): the start-up an epoch costs.

Usage:
    PYTHONPATH=src python benchmarks/bench_dataloader.py [--workers 2] [--batches 10] [--batch-size 8] [--epochs 4]
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


def time_epochs(ds: torch.utils.data.Dataset, workers: int, batch_size: int, epochs: int, batches: int, persistent: bool) -> float:
    """Seconds an epoch of ``batches`` batches takes, start-up of the workers included (median over epochs 2..N)."""
    from gfm.engine.sampler import EpochSampler

    sampler = EpochSampler(min(len(ds), batches * batch_size), seed=0, tag_epoch=persistent)  # an epoch of `batches`
    loader = DataLoader(ds, batch_size=batch_size, sampler=sampler, num_workers=workers, persistent_workers=persistent)
    times = []
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        ds.set_epoch(epoch)  # type: ignore[attr-defined]
        start = time.perf_counter()
        for _ in loader:  # the whole epoch, as gfm train does
            pass
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--foregrounds", type=Path)
    parser.add_argument("--rosta", default="TT")
    parser.add_argument("--epochs", type=int, default=0, help="also time this many short epochs, workers restarted vs persistent")
    parser.add_argument("--epoch-batches", type=int, default=4)
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
        if args.epochs:
            for name, ds in (("ORI-Track", ori), ("COMP-Track (RSSN)", comp)):
                restarted, persistent = (time_epochs(ds, args.workers, args.batch_size, args.epochs, args.epoch_batches, p)
                                         for p in (False, True))
                print(f"{name}, epochs of {args.epoch_batches} batches: {restarted:.2f} s an epoch with workers started every "
                      f"epoch, {persistent:.2f} s with persistent workers")
    print(f"command: {' '.join([sys.executable, *sys.argv])}")


if __name__ == "__main__":
    main()
