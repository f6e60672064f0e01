"""Training throughput on CPU (or GPU): optimiser steps vs the data pipeline.

    python benchmarks/train.py                          # r34-TT, batch 8, 320x320, 2 threads
    python benchmarks/train.py --variant tiny-TT --batch-size 16
    python benchmarks/train.py --data FG --backgrounds BG  # also the RSSN loader with 2 workers

Step samples/s: forward + backward + Adam step on random 320x320 batches (the
data is not the bottleneck being measured). Loader samples/s: the
CompositeDataset (RSSN route, cached foregrounds and denoised images) through a
DataLoader with 2 worker processes. Training is data-bound where the loader
figure is below the step figure.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

import gfm
from gfm.engine.steps import training_loss
from gfm.losses import GFMLoss
from gfm.models.normalization import IMAGENET


def synthetic_batch(batch_size: int, size: int, rosta: str) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    alpha = torch.rand(batch_size, 1, size, size, generator=g)
    batch = {"image": torch.rand(batch_size, 3, size, size, generator=g), "alpha": alpha,
             "fg": torch.rand(batch_size, 3, size, size, generator=g), "bg": torch.rand(batch_size, 3, size, size, generator=g)}
    for head in (["TT", "FT", "BT"] if rosta == "RIM" else [rosta]):
        suffix = f"_{head}" if rosta == "RIM" else ""
        batch["glance" + suffix] = torch.randint(0, 3 if head == "TT" else 2, (batch_size, size, size), generator=g)
        batch["focus" + suffix] = alpha.clone()
        batch["focus_mask" + suffix] = torch.ones(batch_size, 1, size, size)
    return batch


def step_rate(variant: str, batch_size: int, size: int, steps: int, device: str) -> float:
    backbone, rosta = variant.split("-")
    model = gfm.create_model(backbone, rosta).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-5)
    loss_fn = GFMLoss(rosta)
    batch = {k: v.to(device) for k, v in synthetic_batch(batch_size, size, rosta).items()}
    times = []
    for i in range(steps + 1):
        start = time.perf_counter()
        training_loss(model, batch, loss_fn, IMAGENET)["total"].backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        if i:  # the first step warms up
            times.append(time.perf_counter() - start)
    return batch_size / statistics.median(times)


def loader_rate(data: str, backgrounds: str, batch_size: int, size: int, batches: int) -> float:
    from torch.utils.data import DataLoader

    from gfm.data.augment import AugmentConfig
    from gfm.data.cache import Cache, CacheReader, default_cache_dir
    from gfm.data.dataset import CompositeDataset
    from gfm.data.layouts import background_split, matting_split

    split = matting_split(data)
    bgs = background_split(backgrounds)
    reader = CacheReader(Cache(default_cache_dir(data)), "cf", "nlm", compute_missing=True, background_cache=Cache(default_cache_dir(backgrounds)))
    dataset = CompositeDataset(split.samples, bgs, reader, route="rssn", augment=AugmentConfig(out_size=size))
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=2)
    count, start = 0, None
    for i, batch in enumerate(loader):
        if i == 1:
            start, count = time.perf_counter(), 0
        count += batch["image"].shape[0]
        if i == batches:
            break
    assert start is not None
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="r34-TT")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data", help="foreground set (images + alphas) with its gfm-cache")
    parser.add_argument("--backgrounds", help="background folder with its gfm-cache")
    parser.add_argument("--batches", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"command: python {' '.join(sys.argv)}")
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, device={args.device}")
    rate = step_rate(args.variant, args.batch_size, args.size, args.steps, args.device)
    print(f"{args.variant} training step, batch {args.batch_size} at {args.size}x{args.size}: {rate:.2f} samples/s (median of {args.steps})")
    if args.data and args.backgrounds:
        rate = loader_rate(args.data, args.backgrounds, args.batch_size, args.size, args.batches)
        print(f"RSSN composite loader, 2 workers, batch {args.batch_size} at {args.size}x{args.size}: {rate:.2f} samples/s")


if __name__ == "__main__":
    main()
