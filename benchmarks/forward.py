"""CPU (or GPU) forward latency of every GFM variant at 800x800.

Prints, per variant, the median of repeated forward passes of the plain
network (eval + inference mode) and of the inference-optimised one (batch
norms folded, channels-last), the thread count, and the command line.

    python benchmarks/forward.py                     # all variants, 800x800, 2 threads
    python benchmarks/forward.py --variants r34-TT --repeats 10
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time

import torch

import gfm
from gfm.models.optimize import optimize_for_inference

DEFAULT_VARIANTS = ["r34-TT", "r34-RIM", "r34_2b-TT", "d121-TT", "r101-TT"]


def median_latency(model: torch.nn.Module, x: torch.Tensor, repeats: int, device: str) -> float:
    times = []
    with torch.inference_mode():
        model(x)  # warm-up: oneDNN primitive creation, allocator
        for _ in range(repeats):
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            model(x)
            if device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS)
    parser.add_argument("--size", type=int, default=800, help="square input side (multiple of 32)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    print(f"command: python {' '.join(sys.argv)}")
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, threads={torch.get_num_threads()}, device={args.device}")
    print(f"input 1x3x{args.size}x{args.size}, median of {args.repeats} runs after one warm-up")
    print(f"{'variant':<12} {'plain (s)':>10} {'optimised (s)':>14} {'speed-up':>9}")
    x = torch.rand(1, 3, args.size, args.size, device=args.device) * 255
    for variant in args.variants:
        backbone, rosta = variant.split("-")
        model = gfm.create_model(backbone, rosta).eval().to(args.device)
        plain = median_latency(model, x, args.repeats, args.device)
        fast = optimize_for_inference(model)
        optimised = median_latency(fast, x.contiguous(memory_format=torch.channels_last), args.repeats, args.device)
        print(f"{variant:<12} {plain:>10.3f} {optimised:>14.3f} {plain / optimised:>8.2f}x", flush=True)
        del model, fast


if __name__ == "__main__":
    main()
