"""Hint maps: where the user says what a pixel is, for guided matting.

A hint map is an ``(H, W)`` ``uint8`` array of :class:`Hint` codes, the
image's size. As a file (``gfm matte --hint``, the HTTP API, the web page)
it is a trimap-like PNG:

==================== =============================================
pixel                 hint
==================== =============================================
gray 0 (black)        background: alpha 0
gray 128              transition: the focus decoder's alpha ("hair, work it out")
gray 255 (white)      foreground: alpha 1
transparent (alpha 0) unknown: the network decides
==================== =============================================

So a trimap (AM-2k's, or ``gfm matte --outputs trimap``) is a hint that
covers the whole image, and a PNG painted on a transparent layer hints only
where painted. Other gray levels or partial transparency (a soft brush) are
refused with a message that says where they are.
"""

from __future__ import annotations

import os
import sys
from enum import IntEnum
from pathlib import Path

import numpy as np
from PIL import Image

from gfm.errors import ImageTooLargeError, InputError
from gfm.io.images import MAX_IMAGE_PIXELS, _exif_transpose, _open, open_header

#: gray level of each hint in a hint PNG.
HINT_GRAY_LEVELS = {"background": 0, "transition": 128, "foreground": 255}


class Hint(IntEnum):
    """Codes of a hint map."""

    UNKNOWN = 0
    BACKGROUND = 1
    FOREGROUND = 2
    TRANSITION = 3


def hint_from_gray(gray: np.ndarray, opacity: np.ndarray | None = None, name: str = "hint") -> np.ndarray:
    """Hint codes from a trimap-like gray map and optional opacity.

    Args:
        gray: ``(H, W)`` uint8 with values 0, 128, 255 where opaque.
        opacity: ``(H, W)`` uint8, 0 (unknown) or 255 (hinted); ``None``: all hinted.
        name: the file named in messages.

    Returns:
        ``(H, W)`` uint8 :class:`Hint` codes.

    Raises:
        InputError: partial opacity, or gray levels other than 0, 128, 255.
    """
    opaque = np.ones(gray.shape, dtype=bool) if opacity is None else opacity == 255
    if opacity is not None:
        _refuse(name, (opacity != 0) & ~opaque, opacity, "partly transparent pixels (alpha other than 0 or 255)")
    hints = np.full(gray.shape, Hint.UNKNOWN, dtype=np.uint8)
    for level, code in ((0, Hint.BACKGROUND), (128, Hint.TRANSITION), (255, Hint.FOREGROUND)):
        hints[opaque & (gray == level)] = code
    _refuse(name, opaque & (hints == Hint.UNKNOWN), gray, "gray levels other than 0, 128 and 255")
    return hints


def _refuse(name: str, bad: np.ndarray, values: np.ndarray, what: str) -> None:
    if not bad.any():
        return
    y, x = (int(i[0]) for i in np.nonzero(bad))
    raise InputError(
        f"{name}: {int(bad.sum())} {what} (the first at x={x}, y={y}: {int(values[y, x])}); a hint map uses "
        "gray 0 = background, 128 = transition, 255 = foreground and transparent = unknown; paint with a hard "
        "brush (no anti-aliasing, no feathering)"
    )


def _hint_from_pil(image: Image.Image, name: str) -> np.ndarray:
    image = _exif_transpose(image)
    mode = image.mode
    if mode in ("P", "PA") or "transparency" in image.info:
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("L", "1"):
        return hint_from_gray(np.asarray(image.convert("L")), None, name)
    if mode == "LA":
        array = np.asarray(image)
        return hint_from_gray(array[..., 0], array[..., 1], name)
    if mode in ("RGB", "RGBA"):
        array = np.asarray(image)
        rgb, opacity = array[..., :3], (array[..., 3] if mode == "RGBA" else None)
        visible = np.ones(rgb.shape[:2], dtype=bool) if opacity is None else opacity != 0
        colour = visible & ((rgb[..., 0] != rgb[..., 1]) | (rgb[..., 0] != rgb[..., 2]))
        _refuse(name, colour, rgb[..., 0], "coloured pixels (red, green and blue differ)")
        return hint_from_gray(rgb[..., 0], opacity, name)
    raise InputError(f"{name}: unsupported hint image mode {mode!r}; save the hint as an 8-bit gray PNG (with transparency for unknown areas)")


def read_hint(path: str | os.PathLike[str], size: tuple[int, int] | None = None) -> np.ndarray:
    """Read a hint PNG (see the module docstring) as ``(H, W)`` uint8 :class:`Hint` codes.

    Args:
        path: the hint file.
        size: ``(H, W)`` the hint must have (the image's, EXIF orientation applied).

    Raises:
        InputError: unreadable file, wrong size, or values outside the four hints.
    """
    path = Path(path)
    with _open_hint(path, None, size) as opened:
        hints = _hint_from_pil(opened, str(path))
    check_hint_size(hints, size, str(path))
    return hints


def decode_hint(data: bytes, size: tuple[int, int] | None = None, name: str = "hint") -> np.ndarray:
    """:func:`read_hint` for the bytes of a hint PNG (an upload); nothing is written to disk."""
    with _open_hint(Path(name), data, size) as opened:
        hints = _hint_from_pil(opened, name)
    check_hint_size(hints, size, name)
    return hints


def _open_hint(path: Path, data: bytes | None, size: tuple[int, int] | None) -> Image.Image:
    """Open a hint of at most a few times the image's pixels; a larger one is refused from its
    header with the size mismatch (not as "too large for gfm": it is the wrong size)."""
    try:
        return _open(path, data, _pixel_limit(size))
    except ImageTooLargeError:
        if size is None:
            raise
        with open_header(path, data, sys.maxsize) as header:  # the header only: no pixels decoded
            width, height = header.size
        raise InputError(_size_mismatch(str(path), width, height, size)) from None


def _size_mismatch(name: str, width: int, height: int, size: tuple[int, int]) -> str:
    return (
        f"{name}: the hint map is {width}x{height} pixels but the image is {size[1]}x{size[0]} "
        "(after EXIF orientation); paint the hint on the image itself, at its size"
    )


def _pixel_limit(size: tuple[int, int] | None) -> int:
    """Decode at most a few times the image's pixels: a larger hint is refused from its header."""
    return MAX_IMAGE_PIXELS if size is None else max(4 * size[0] * size[1], 1 << 20)


def check_hint_size(hints: np.ndarray, size: tuple[int, int] | None, name: str = "hint") -> None:
    """Raise :class:`InputError` unless ``hints`` is ``(H, W)`` = ``size`` (when given)."""
    if size is not None and tuple(hints.shape[:2]) != tuple(size):
        raise InputError(_size_mismatch(name, hints.shape[1], hints.shape[0], size))


def hint_to_gray(hints: np.ndarray) -> np.ndarray:
    """``(H, W)`` :class:`Hint` codes -> ``(H, W, 2)`` uint8 gray + opacity, the PNG form."""
    gray = np.zeros(hints.shape, dtype=np.uint8)
    gray[hints == Hint.TRANSITION] = 128
    gray[hints == Hint.FOREGROUND] = 255
    opacity = np.where(hints == Hint.UNKNOWN, 0, 255).astype(np.uint8)
    return np.dstack([gray, opacity])


__all__ = ["HINT_GRAY_LEVELS", "Hint", "check_hint_size", "decode_hint", "hint_from_gray", "hint_to_gray", "read_hint"]
