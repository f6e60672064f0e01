"""End-to-end matting speed and memory: file in, alpha and cutout files out.

    python benchmarks/matte.py                 # 1620x1080 hybrid, ours vs the released pipeline's steps
    python benchmarks/matte.py --memory        # peak memory of a 12-megapixel photo (separate process)
    python benchmarks/matte.py --throughput    # gfm matte on a folder: images/s at 1 and 2 threads

The network has random weights of the r34-TT variant: the computation (and
so the time) is the same as with the released checkpoint, except for one
thing: random weights predict almost no transition area, and our focus heads
run only where the fusion reads them. So that this costs what it costs on a
real photo, the glance classes are replaced (after the glance decoder has run)
by the trimap of the photo's AM-2k reference matte (examples/mask/sample6.png,
25-px band: 17 % of the pixels). The "released pipeline" baseline re-enacts
the steps of the released test code with our plain network (skimage resizes
to a multiple of 32, the whole network run at 1/2 and at 1/3, skimage resizes
back, image x alpha cutout); the released code itself is not part of this
repository. It needs scikit-image (``pip install scikit-image``) and is
skipped without it. The MAC counts of both pipelines are printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

import gfm
from gfm.inference import Predictor
from gfm.inference.batch import MatteJob
from gfm.inference.batch_writer import write_outputs
from gfm.io import read_image

EXAMPLE = Path(__file__).parents[1] / "examples" / "original" / "sample6.jpg"
EXAMPLE_MATTE = Path(__file__).parents[1] / "examples" / "mask" / "sample6.png"


def use_reference_glance(predictor: Predictor) -> float:
    """Make the predictor's glance classes those of the example's reference trimap.

    The glance decoder still runs (same time); its argmax is replaced so the
    transition area, where the focus heads run, has a real photo's size.
    Returns the fraction of transition pixels.
    """
    from gfm.data.rosta import make_trimap
    from gfm.io import read_alpha

    trimap = make_trimap(read_alpha(EXAMPLE_MATTE))
    model = predictor.models[0]
    inner = model.predict_glance

    def glance(features):  # type: ignore[no-untyped-def]
        logits = inner(features)["TT"]
        height, width = logits.shape[-2:]
        classes = torch.from_numpy(cv2.resize(trimap, (width, height), interpolation=cv2.INTER_NEAREST)).long()
        return {"TT": torch.nn.functional.one_hot(classes, 3).permute(2, 0, 1)[None].float().to(logits.dtype)}

    model.predict_glance = glance  # type: ignore[method-assign]
    return float((trimap == 1).mean())


def print_macs() -> None:
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = gfm.create_model("r34", "TT").eval()

    def gmacs(fn, height: int, width: int) -> float:  # type: ignore[no-untyped-def]
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            fn(torch.empty(1, 3, height, width, device="meta"))
        return counter.get_total_flops() / 2e9

    released = gmacs(model, 352, 512) + gmacs(model, 512, 800)
    ours_glance = gmacs(lambda x: model.predict_glance(model.encode(x)), 384, 544)
    ours_focus = gmacs(lambda x: model.predict_focus(model.encode(x)), 544, 832)
    print(
        f"MACs: released (whole network at 352x512 and 512x800) {released:.1f} G; ours (encoder + glance at 384x544, "
        f"encoder + focus at 544x832, focus heads dense) {ours_glance + ours_focus:.1f} G = {(ours_glance + ours_focus) / released:.2f} of it"
    )


def make_photo(folder: Path, width: int, height: int, name: str = "photo.jpg") -> Path:
    """A real photo (examples/original/sample6.jpg) resized to ``width x height``."""
    image = cv2.imread(str(EXAMPLE))
    path = folder / name
    cv2.imwrite(str(path), cv2.resize(image, (width, height), interpolation=cv2.INTER_CUBIC), [cv2.IMWRITE_JPEG_QUALITY, 95])
    return path


def ours_once(predictor: Predictor, photo: Path, out: Path, foreground: str) -> None:
    image = read_image(photo)
    result = predictor.predict(image)
    write_outputs(MatteJob(photo, Path(photo.stem)), out, ["alpha", "cutout"], image, result.alpha, None, foreground, (255, 255, 255), 8)


def released_once(model: gfm.GFM, photo: Path, out: Path) -> None:
    from skimage.transform import resize

    image = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
    h, w = image.shape[:2]
    outputs = {}
    for ratio in (2, 3):  # the whole network at 1/2 and at 1/3
        rh, rw = h // ratio, w // ratio
        new_h, new_w = rh - rh % 32, rw - rw % 32
        scaled = resize(image, (new_h, new_w)) * 255.0
        x = torch.from_numpy(scaled.astype(np.float32)).permute(2, 0, 1)[None]
        with torch.no_grad():
            result = model(x)
        trimap = result.glance_logits.argmax(1)[0].numpy().astype(np.float64) * 127.5
        outputs[ratio] = (resize(trimap, (h, w)) * 1.0, resize(result.focus[0, 0].numpy(), (h, w)))
    glance = outputs[3][0]
    focus = outputs[2][1]
    weighted = np.ones_like(glance)
    weighted[(glance == 255) | (glance == 0)] = 0
    alpha = glance * (1 - weighted) / 255 + focus * weighted
    cv2.imwrite(str(out / f"{photo.stem}_alpha.png"), (alpha * 255).astype(np.uint8))
    cutout = np.dstack([image * alpha[..., None], alpha * 255]).astype(np.uint8)
    cv2.imwrite(str(out / f"{photo.stem}_cutout.png"), cv2.cvtColor(cutout, cv2.COLOR_RGBA2BGRA))


def timed_interleaved(cases: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Median seconds of each case, the cases taking turns (round robin) so that a
    slow spell of this shared machine hits them all alike."""
    for fn in cases.values():
        fn()  # warm-up (oneDNN primitives, numba JIT of pymatting)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def speed(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        photo = make_photo(folder, 1620, 1080)
        out = folder / "out"
        out.mkdir()
        model = gfm.create_model("r34", "TT").eval()
        predictor = Predictor(model, strategy="hybrid", device="cpu")
        dense = Predictor(model, strategy="hybrid", device="cpu")
        dense.sparse_focus = False
        fast = Predictor(model, strategy="hybrid", device="cpu", precision="bf16")
        transition = [use_reference_glance(p) for p in (predictor, dense, fast)][0]
        print(f"photo 1620x1080 (examples/original/sample6.jpg resized), r34-TT, threads={torch.get_num_threads()}, median of {args.repeats}, cases interleaved")
        print(f"glance classes from the reference matte's trimap: {transition:.0%} transition")
        print_macs()
        cases: dict[str, Callable[[], None]] = {
            "ours, hybrid, fp32, foreground=fast (default)": lambda: ours_once(predictor, photo, out, "fast"),
            "ours, hybrid, fp32, foreground=ml": lambda: ours_once(predictor, photo, out, "ml"),
            "ours, hybrid, fp32, foreground=none": lambda: ours_once(predictor, photo, out, "none"),
            "ours, hybrid, fp32, foreground=ml, focus heads everywhere": lambda: ours_once(dense, photo, out, "ml"),
            "ours, hybrid, bf16, foreground=fast": lambda: ours_once(fast, photo, out, "fast"),
        }
        try:
            import skimage  # noqa: F401

            cases["released pipeline's steps (our plain network)"] = lambda: released_once(model, photo, out)
        except ImportError:
            print("released pipeline: skipped (pip install scikit-image to run it)")
        results = timed_interleaved(cases, args.repeats)
        width = max(len(name) for name in results)
        for name, seconds in results.items():
            print(f"{name:<{width}}  {seconds:.3f} s")
        released = results.get("released pipeline's steps (our plain network)")
        if released:
            ours = results["ours, hybrid, fp32, foreground=fast (default)"]
            print(f"ours / released steps: fp32 (the default for weights without bf16 measurements) {ours / released:.2f}, "
                  f"bf16 {results['ours, hybrid, bf16, foreground=fast'] / released:.2f}")


def memory_child(side_w: int, side_h: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        photo = make_photo(Path(tmp), side_w, side_h)
        predictor = Predictor(gfm.create_model("r34", "TT"), strategy="hybrid", device="cpu")
        start = time.perf_counter()
        ours_once(predictor, photo, Path(tmp), "ml")
        elapsed = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_mb": peak_kb / 1024, "seconds": elapsed}))


def memory(args: argparse.Namespace) -> None:
    result = subprocess.run([sys.executable, __file__, "--memory-child", "4000", "3000"], capture_output=True, text=True, check=True)
    data = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"12-megapixel photo (4000x3000), hybrid, alpha + ml cutout, library: peak RSS {data['peak_mb']:.0f} MB, {data['seconds']:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        for i in range(3):
            make_photo(folder, 4000, 3000, f"photo{i}.jpg")
        ckpt = gfm.save_checkpoint(gfm.create_model("r34", "TT"), Path(tmp) / "r34.pth")
        for target in (folder / "photo0.jpg", folder):
            command = [sys.executable, "-m", "gfm.cli.main", "matte", str(target), "--out", str(Path(tmp) / "out"), "--model", str(ckpt), "-q", "--overwrite"]
            probe = "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
            peak_kb = int(subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, text=True, check=True).stdout)
            what = "one photo" if target.is_file() else "a folder of 3 (outputs written while the next is predicted)"
            print(f"12-megapixel photos, gfm matte, {what}: peak RSS {peak_kb / 1024:.0f} MB")


def throughput_child(cli_args: list[str]) -> None:
    """``gfm matte`` in this process, its predictor's glance classes taken from the
    reference matte (see the module doc), so the focus heads cost what they cost
    on real photos."""
    import gfm.cli.matte as matte_command
    from gfm.cli.main import main as cli_main

    build = matte_command.build_predictor

    def build_with_reference_glance(*a, **k):  # type: ignore[no-untyped-def]
        predictor = build(*a, **k)
        use_reference_glance(predictor)
        return predictor

    matte_command.build_predictor = build_with_reference_glance  # type: ignore[assignment]
    sys.exit(cli_main(cli_args))


def throughput(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        for i in range(args.images):
            make_photo(folder, 1620, 1080, f"photo{i}.jpg")
        ckpt = gfm.save_checkpoint(gfm.create_model("r34", "TT"), Path(tmp) / "r34.pth")
        for threads in (1, 2):
            out = Path(tmp) / f"out{threads}"
            env = dict(os.environ, OMP_NUM_THREADS=str(threads))
            cli_args = ["matte", str(folder), "--out", str(out), "--model", str(ckpt), "--threads", str(threads), "-q"]
            start = time.perf_counter()
            result = subprocess.run([sys.executable, __file__, "--throughput-child", *cli_args], check=True, env=env, capture_output=True, text=True)
            elapsed = time.perf_counter() - start
            in_process = result.stderr.strip().splitlines()[-1].rsplit(", ", 1)[-1]
            print(f"gfm matte, {args.images} photos 1620x1080, --threads {threads}: {in_process} once running, "
                  f"{args.images / elapsed:.2f} images/s including start-up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--throughput", action="store_true")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--memory-child", nargs=2, type=int, help=argparse.SUPPRESS)
    if len(sys.argv) > 1 and sys.argv[1] == "--throughput-child":
        throughput_child(sys.argv[2:])
    args = parser.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return
    print(f"command: python {' '.join(sys.argv)}")
    if args.memory:
        memory(args)
    elif args.throughput:
        throughput(args)
    else:
        speed(args)


if __name__ == "__main__":
    main()
