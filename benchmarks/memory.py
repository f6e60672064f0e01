"""Peak memory (resident set) of `gfm matte` on large photos, every output.

    python benchmarks/memory.py                      # 12 MP, 50 MP, 108 MP, 250 MP (the largest accepted)
    python benchmarks/memory.py --sizes 4000x3000    # chosen sizes only
    python benchmarks/memory.py --stages 12000x9000  # where the memory goes, stage by stage (library)

Each case runs `gfm matte PHOTO --outputs alpha,cutout,foreground,composite,trimap,preview`
in a fresh child process (r34-TT with random weights: the network's memory is
that of the released model) and reports the child's peak RSS
(``RUSAGE_CHILDREN.ru_maxrss``). Memory, unlike time, does not depend on what
else the machine is doing. The photos are examples/original/sample6.jpg resized
(a real photo's JPEG, so decoding and PNG encoding cost what they cost);
the composite background is a 5000x1 image strip, the worst shape for fitting
a background.

Measured on 2026-11-30 (2-core x86 CPU, 24 GB, CPU PyTorch 2.13.0, every output;
`python benchmarks/memory.py`):

    photo                  peak RSS
    4000x3000   (12 MP)    1831 MB   (foreground colours solved whole up to 16 MP)
    8660x5774   (50 MP)    1772 MB   (in 2048-pixel tiles above)
    12000x9000  (108 MP)   2741 MB   (before: 9.6 GB with alpha + cutout alone, issue 11)
    19360x12900 (250 MP)   5316 MB   (the largest accepted size; before: 18.9 GB for a 225 MP PNG)

About 0.9 GB of each figure is PyTorch, the model and pymatting; the rest
grows with the photo (the photo, its alpha, foreground and one output at a
time, about 18 bytes a pixel) once foreground estimation is tiled.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

EXAMPLE = Path(__file__).parents[1] / "examples" / "original" / "sample6.jpg"
EVERY_OUTPUT = "alpha,cutout,foreground,composite,trimap,preview"
DEFAULT_SIZES = ("4000x3000", "8660x5774", "12000x9000", "19360x12900")  # 12, 50, 108, 249.7 MP


def make_photo(path: Path, width: int, height: int) -> Path:
    """The example photo resized to ``width x height``, in bands (the generator must not need 3 x the photo)."""
    source = cv2.imread(str(EXAMPLE))
    band = max(1, 8_000_000 // width)
    scaled = cv2.resize(source, (width, max(1, round(source.shape[0] * width / source.shape[1]))), interpolation=cv2.INTER_LINEAR)
    rows = np.linspace(0, scaled.shape[0] - 1, height).astype(np.int64)  # stretch vertically by row picking
    out = np.empty((height, width, 3), np.uint8)
    for top in range(0, height, band):
        out[top : top + band] = scaled[rows[top : top + band]]
    del scaled
    cv2.imwrite(str(path), out, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return path


def peak_of_command(command: list[str]) -> tuple[float, float]:
    """(peak RSS MB, seconds) of a command run in a child process."""
    probe = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "sys.stderr.write(done.stderr[-2000:]); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - t, done.returncode)"
    )
    result = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, text=True, check=True)
    kb, seconds, code = result.stdout.split()
    if int(code) != 0:
        raise SystemExit(f"{' '.join(command)} failed ({code}):\n{result.stderr}")
    return int(kb) / 1024, float(seconds)


def matte_case(folder: Path, checkpoint: Path, background: Path, width: int, height: int) -> None:
    photo = make_photo(folder / f"photo_{width}x{height}.jpg", width, height)
    command = [sys.executable, "-m", "gfm.cli.main", "matte", str(photo), "--out", str(folder / "out"), "--model", str(checkpoint)]
    command += ["--outputs", EVERY_OUTPUT, "--background", str(background), "-q", "--overwrite"]
    peak, seconds = peak_of_command(command)
    print(f"{width}x{height} ({width * height / 1e6:.0f} MP), gfm matte, every output: peak RSS {peak:.0f} MB ({seconds:.0f} s)", flush=True)
    photo.unlink()


def stages_child(photo: Path) -> None:
    """The library's steps one by one, the peak RSS after each (the peak only grows)."""
    import gfm
    from gfm.inference import Predictor
    from gfm.inference.batch import MatteJob
    from gfm.inference.batch_writer import write_outputs
    from gfm.io import read_image

    def peak() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    with tempfile.TemporaryDirectory() as tmp:
        predictor = Predictor(gfm.create_model("r34", "TT"), strategy="hybrid", device="cpu")
        from gfm.data.foreground import load_pymatting

        load_pymatting()
        print(f"  start (model, pymatting): {peak():.0f} MB", flush=True)
        image = read_image(photo)
        print(f"  read: {peak():.0f} MB", flush=True)
        result = predictor.predict(image, trimap=True)
        print(f"  predict: {peak():.0f} MB", flush=True)
        for kind in EVERY_OUTPUT.split(","):
            write_outputs(MatteJob(photo, Path(kind)), Path(tmp), [kind], image, result.alpha, result.trimap, "ml", np.zeros((1, 5000, 3), np.uint8), 8)
            print(f"  + {kind}: {peak():.0f} MB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=list(DEFAULT_SIZES), help="WIDTHxHEIGHT of the photos")
    parser.add_argument("--stages", metavar="WxH", help="report the peak after each library step for one size")
    parser.add_argument("--stages-child", metavar="PHOTO", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stages_child:
        stages_child(Path(args.stages_child))
        return
    if args.stages:
        with tempfile.TemporaryDirectory() as tmp:  # the photo is made here: its making is not measured
            photo = make_photo(Path(tmp) / "photo.jpg", *map(int, args.stages.split("x")))
            print(f"{args.stages}, library steps, peak RSS after each:", flush=True)
            subprocess.run([sys.executable, __file__, "--stages-child", str(photo)], check=True)
        return
    import gfm

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        checkpoint = gfm.save_checkpoint(gfm.create_model("r34", "TT"), folder / "r34.pth")
        background = folder / "strip.png"
        cv2.imwrite(str(background), np.random.default_rng(0).integers(0, 255, (1, 5000, 3), np.uint8))
        print(f"gfm matte, r34-TT, --outputs {EVERY_OUTPUT}, --background a 5000x1 image", flush=True)
        started = time.perf_counter()
        for size in args.sizes:
            matte_case(folder, checkpoint, background, *map(int, size.split("x")))
        print(f"({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
