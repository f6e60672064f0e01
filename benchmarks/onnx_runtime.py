"""onnxruntime (fp32, dynamic int8) against our PyTorch path (fp32, bf16) on the CPU.

Two workloads, for the default model (gfm-lite) and r34-TT (random weights:
the same compute as the released ones):

* network: the two passes the hybrid strategy runs for an image whose focus
  pass is 800x800 (glance pass 544x544, focus pass 800x800), network only.
  Both runtimes do the same work (PyTorch's focus heads dense, as onnxruntime's).
* matte: a whole 1620x1080 photo, file to file as `gfm matte --outputs
  alpha,cutout` does it (read, predict with the hybrid strategy or --strategy, foreground
  colours, both PNGs written), the model already loaded. PyTorch here runs its
  focus heads around the transition area only (its CPU default).

Cases are interleaved round by round (the machine may be shared) and the
median of the rounds is printed, with the command line.

    python benchmarks/onnx_runtime.py                    # 2 threads, 5 rounds
    python benchmarks/onnx_runtime.py --models gfm-lite --rounds 3 --strategy single
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

import gfm
from gfm.inference import Predictor
from gfm.inference.models import load_model_spec
from gfm.inference.onnx_runtime import OnnxModel, OnnxPredictor
from gfm.io import read_image, write_alpha, write_image
from gfm.inference.onnx_export import TwoPassGFM, export_onnx
from gfm.models.optimize import optimize_for_inference

sys.path.insert(0, str(Path(__file__).resolve().parent))
from matte import timed_interleaved  # noqa: E402

PHOTO = Path(__file__).resolve().parents[1] / "examples" / "original" / "sample6.jpg"
GLANCE, FOCUS = (544, 544), (800, 800)


def load(name: str) -> gfm.GFM:
    if name == "r34-TT":
        torch.manual_seed(0)
        return gfm.create_model("r34", "TT").eval()
    return load_model_spec(name)


def network_cases(model: gfm.GFM, onnx_files: dict[str, Path], threads: int) -> dict[str, Callable[[], object]]:
    glance = np.random.default_rng(0).uniform(0, 255, (1, 3, *GLANCE)).astype(np.float32)
    focus = np.random.default_rng(1).uniform(0, 255, (1, 3, *FOCUS)).astype(np.float32)
    fast = optimize_for_inference(model)
    normalization = getattr(getattr(model, "checkpoint_meta", None), "normalization", None) or gfm.models.normalization.RAW_255
    pair = TwoPassGFM(fast, normalization).eval()
    g_t = torch.from_numpy(glance).contiguous(memory_format=torch.channels_last)
    f_t = torch.from_numpy(focus).contiguous(memory_format=torch.channels_last)

    def pytorch(bf16: bool) -> Callable[[], object]:
        def run() -> object:
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                return pair(g_t, f_t)
        return run

    cases: dict[str, Callable[[], object]] = {"PyTorch fp32": pytorch(False), "PyTorch bf16": pytorch(True)}
    for label, path in onnx_files.items():
        session = OnnxModel(path, threads)
        cases[label] = lambda session=session: session.run(glance, focus)
    return cases


def matte_cases(model: gfm.GFM, onnx_files: dict[str, Path], threads: int, out: Path, strategy: str) -> dict[str, Callable[[], object]]:
    image = cv2.resize(read_image(PHOTO), (1620, 1080), interpolation=cv2.INTER_AREA)
    photo = out / "photo.png"
    write_image(photo, image)

    def file_to_file(predictor: Predictor | OnnxPredictor) -> Callable[[], object]:
        def run() -> object:
            result = predictor.predict(read_image(photo))
            write_alpha(out / "alpha.png", result.alpha)
            write_image(out / "cutout.png", result.cutout())
            return result
        return run

    cases = {
        "PyTorch fp32": file_to_file(Predictor(model, strategy, device="cpu", precision="fp32")),
        "PyTorch bf16": file_to_file(Predictor(model, strategy, device="cpu", precision="bf16")),
    }
    for label, path in onnx_files.items():
        cases[label] = file_to_file(OnnxPredictor(path, strategy, threads=threads))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["gfm-lite", "r34-TT"], help="weights names, or r34-TT (random weights)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--strategy", default="hybrid", choices=["hybrid", "single", "resize"], help="of the matte workload")
    args = parser.parse_args()

    import onnxruntime

    torch.set_num_threads(args.threads)
    print(f"command: python {' '.join(sys.argv)}")
    print(f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, {platform.processor() or platform.machine()}, "
          f"threads={args.threads}, median of {args.rounds} interleaved rounds after one warm-up")
    print(f"network: glance {GLANCE[0]}x{GLANCE[1]} + focus {FOCUS[0]}x{FOCUS[1]}; matte: 1620x1080 {PHOTO.name}, {args.strategy}, alpha + cutout PNGs")
    rows = []
    with tempfile.TemporaryDirectory(prefix="gfm-onnx-bench-") as scratch:
        folder = Path(scratch)
        for name in args.models:
            model = load(name)
            files = {}
            for label, quantize in (("ONNX fp32", "none"), ("ONNX int8", "int8")):
                path = folder / f"{name}-{quantize}.onnx"
                export_onnx(model, path, model_name=name, quantize=quantize)
                files[label] = path
            network = timed_interleaved(network_cases(model, files, args.threads), args.rounds)
            matte = timed_interleaved(matte_cases(model, files, args.threads, folder, args.strategy), args.rounds)
            rows += [(name, case, network[case], matte[case]) for case in network]
    print(f"{'model':<10} {'runtime':<14} {'network (s)':>12} {'matte (s)':>10}")
    for name, case, network_s, matte_s in rows:
        print(f"{name:<10} {case:<14} {network_s:>12.3f} {matte_s:>10.3f}")


if __name__ == "__main__":
    main()
