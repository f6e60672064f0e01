"""Strict reading of dataset files.

:func:`gfm.io.read_alpha` accepts any matte a user may hand to inference
(16-bit, gray saved as RGB). Training data is held to a stricter rule: an alpha
matte is an 8-bit single-channel image, because a 16-bit or RGB matte in a
dataset usually means a wrong export, and silently converting it would train on
something the author did not check. These helpers refuse such files with a
message naming them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gfm.errors import InputError
from gfm.io import read_alpha, read_image
from gfm.io.images import broken_link_message, open_header

# EXIF orientations that swap width and height (transpose, rotations by 90/270).
_SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})
_MODE_WORDS = {
    "RGB": "RGB (3 channels)",
    "RGBA": "RGBA (4 channels)",
    "LA": "gray+alpha (2 channels)",
    "I;16": "16-bit",
    "I;16B": "16-bit",
    "I;16L": "16-bit",
    "I": "32-bit integer",
    "F": "32-bit float",
    "P": "a palette image",
    "1": "1-bit",
    "CMYK": "CMYK",
}


@dataclass(frozen=True)
class Header:
    """What an image file's header says: displayed size (EXIF applied) and mode."""

    path: Path
    width: int
    height: int
    mode: str

    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)


def read_header(path: str | os.PathLike[str], *, apply_exif: bool = True) -> Header:
    """Size and mode without decoding the pixels (fast).

    Raises:
        InputError: missing, empty or unidentifiable file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(broken_link_message(path) or f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes)")
    try:
        with open_header(path) as image:  # gfm's one size limit, not Pillow's
            width, height = image.size
            mode = image.mode
            if apply_exif:
                try:
                    orientation = image.getexif().get(0x0112, 1)
                except Exception:  # broken EXIF: read_image keeps the stored pixels too
                    orientation = 1
                if orientation in _SWAPPING_ORIENTATIONS:
                    width, height = height, width
    except (OSError, SyntaxError, ValueError) as error:
        raise InputError(f"{path}: not an image file that can be read ({error})") from None
    return Header(path, width, height, mode)


def alpha_mode_problem(mode: str) -> str | None:
    """``None`` for an 8-bit single-channel mode, else a description of what is wrong."""
    if mode == "L":
        return None
    word = _MODE_WORDS.get(mode, f"mode {mode!r}")
    return f"alpha matte is {word}, not 8-bit single-channel; save it as an 8-bit grayscale PNG"


def read_matte(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a dataset alpha matte strictly.

    Returns:
        ``uint8`` array ``(H, W)``, 0 = background, 255 = foreground.

    Raises:
        InputError: the file is unreadable, or not 8-bit single-channel.
    """
    path = Path(path)
    problem = alpha_mode_problem(read_header(path, apply_exif=False).mode)
    if problem:
        raise InputError(f"{path}: {problem}")
    # read_alpha returns v / 255 in float32; rint recovers the stored byte exactly.
    return np.rint(read_alpha(path) * 255.0).astype(np.uint8)


def read_trimap(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a released trimap (0 background, 128 unknown, 255 foreground).

    Returns:
        ``uint8`` class map ``(H, W)``: 0 background, 1 transition, 2 foreground.

    Raises:
        InputError: unreadable, not 8-bit single-channel, or values other than 0/128/255.
    """
    raw = read_matte(path)
    values = np.unique(raw)
    bad = values[~np.isin(values, (0, 128, 255))]
    if bad.size:
        raise InputError(
            f"{path}: trimap has values {bad[:8].tolist()} besides 0/128/255 "
            "(resized with interpolation?); regenerate it with nearest-neighbour resizing"
        )
    out = np.zeros(raw.shape, np.uint8)
    out[raw == 128] = 1
    out[raw == 255] = 2
    return out


def read_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """``uint8`` RGB ``(H, W, 3)`` via :func:`gfm.io.read_image` (EXIF applied)."""
    return read_image(path)


def read_pair(image_path: Path, alpha_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Image and matte, checked to have the same size.

    Returns:
        ``(image uint8 (H, W, 3), alpha uint8 (H, W))``.
    """
    image = read_image(image_path)
    alpha = read_matte(alpha_path)
    if image.shape[:2] != alpha.shape:
        raise InputError(
            f"{alpha_path}: alpha is {alpha.shape[1]}x{alpha.shape[0]} but its image {image_path} is "
            f"{image.shape[1]}x{image.shape[0]} (width x height, EXIF orientation applied)"
        )
    return image, alpha
