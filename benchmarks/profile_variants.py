"""Table 7 of the paper for the GFM variants: parameters, GMACs, latency, peak memory.

Runs ``gfm profile`` (gfm.profiling.profiler.profile_model) for each variant:
parameters and GMACs counted on the meta device, latency = median of
``--repeats`` whole-network forward passes on the inference-optimised model
after one warm-up, peak memory of a child process per variant. Prints the
machine, the command and the Markdown table.

Usage::

    PYTHONPATH=src python benchmarks/profile_variants.py                       # the paper's four GFM rows, 800x800, CPU, 2 threads
    PYTHONPATH=src python benchmarks/profile_variants.py --variants r34-TT --repeats 10 --device cuda
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from gfm.profiling.profiler import DEFAULT_VARIANTS, format_markdown, profile_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=list(DEFAULT_VARIANTS))
    parser.add_argument("--size", type=int, default=800)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = parser.parse_args()

    import torch

    print(f"command: python {' '.join(sys.argv)}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}")
    rows = []
    for variant in args.variants:
        start = time.perf_counter()
        rows.append(profile_model(variant=variant, size=args.size, repeats=args.repeats, threads=args.threads, device=args.device))
        runs = ", ".join(f"{t:.3f}" for t in rows[-1].latency_runs_s)
        print(f"{variant}: runs {runs} s ({time.perf_counter() - start:.0f} s wall in all)", flush=True)
    print()
    print(format_markdown(rows), end="")


if __name__ == "__main__":
    main()
