"""Make the README's picture: an example photo beside its cutout over a checkerboard.

    .venv/bin/python docs/make_figure.py              # docs/cutout.jpg, with the default model

The cutout is what ``gfm.remove`` gives on a fresh installation: the bundled default
weights, no guide (a guide in the user's cache would change it), default options. The
JPEG's comment records what it shows (the photo, the weights' name and SHA-256, this
script's SHA-256); ``tests/docs/test_pages.py`` fails when the default weights or this
script changed since the picture was made.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "examples" / "original" / "sample6.jpg"
OUT = ROOT / "docs" / "cutout.jpg"
HEIGHT = 360  # pixels of each half of the picture
SQUARE = 12  # checkerboard square, pixels


def script_digest() -> str:
    """SHA-256 of this script: a change of how the picture is made asks for a new one."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def checkerboard(width: int, height: int) -> np.ndarray:
    """(height, width, 3) uint8 light-gray squares, as image editors show transparency."""
    rows, cols = np.indices((height, width)) // SQUARE
    light = ((rows + cols) % 2 == 0)[..., None]
    return np.where(light, 255, 204).astype(np.uint8).repeat(3, axis=2)


def make_figure(photo: Path) -> tuple[Image.Image, dict[str, str]]:
    """The picture (photo | cutout over a checkerboard) and what it records."""
    os.environ["GFM_HOME"] = tempfile.mkdtemp(prefix="gfm-figure-")  # no cached guide: what a new user gets
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "gfm" / "numba"))
    import gfm
    from gfm.hub.registry import DEFAULT_WEIGHTS, get_weights

    with Image.open(photo) as opened:
        image = opened.convert("RGB")
    cutout = gfm.remove(image, guide="none")
    size = (round(image.width * HEIGHT / image.height), HEIGHT)
    image, cutout = image.resize(size, Image.LANCZOS), cutout.resize(size, Image.LANCZOS)
    board = Image.fromarray(checkerboard(*size))
    board.paste(cutout, (0, 0), cutout)
    figure = Image.new("RGB", (size[0] * 2 + 8, HEIGHT), "white")
    figure.paste(image, (0, 0))
    figure.paste(board, (size[0] + 8, 0))
    record = {"photo": photo.relative_to(ROOT).as_posix(), "model": DEFAULT_WEIGHTS,
              "weights_sha256": get_weights(DEFAULT_WEIGHTS).sha256 or "", "script": script_digest()}
    return figure, record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photo", type=Path, default=PHOTO, help=f"the photo (default {PHOTO.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    figure, record = make_figure(args.photo.resolve())
    partial = OUT.with_suffix(".partial.jpg")
    figure.save(partial, quality=85, optimize=True, comment=json.dumps(record).encode())
    partial.replace(OUT)
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size // 1024} KiB): {record}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
