"""Foreground colours, cutouts, composites and previews.

A cutout made of ``image x alpha`` keeps the old background's colour in the
hair and fur (colour fringes). Estimating the foreground colours ``F`` of
``I = alpha F + (1 - alpha) B`` removes them. The default, ``"fast"``
(:mod:`gfm.inference.band_solver`), solves the energy of pymatting's
multi-level method (Germer et al. 2020, ``"ml"``) on the transition band only;
the closed form of Levin et al. (``"cf"``) is the slow exact one, Blur-Fusion
(Forte and Pitie 2021, ``"blur"``) a cruder fast one.
``benchmarks/foreground.py`` measures their error against the true colours of
RSSN composites and their time.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from gfm.errors import InputError
from gfm.io.colors import COLOUR_FORMS, parse_rgb
from gfm.io.writers import alpha_to_uint8

FOREGROUND_METHODS = ("fast", "ml", "cf", "blur", "none")
DEFAULT_FOREGROUND = "fast"  # measured: closest to the true colours of the fast methods (benchmarks/foreground.py)

# Foreground estimation works in tiles above a size, so that its memory is bounded
# whatever the photo's size: pymatting's multi-level solver ("ml") needs about 75
# bytes a pixel (0.9 GB at 12 MP), the closed form ("cf") about 2.3 KB (1.2 GB at
# 0.5 MP; benchmarks/memory.py). Images up to SINGLE_PIECE_PIXELS are solved whole,
# exactly as pymatting does; larger ones in square tiles of TILE_SIDE pixels, each
# solved with TILE_MARGIN more pixels of context on every side. Tiled colours
# differ from whole-image ones by a few levels where the alpha is small, where
# they hardly show (an alpha-weighted mean of 0.1 of 255 on examples/sample6 in
# 1000-pixel tiles).
SINGLE_PIECE_PIXELS = {"ml": 16_000_000, "fast": 16_000_000, "cf": 500_000}
TILE_SIDE = {"ml": 2048, "fast": 2048, "cf": 640}
TILE_MARGIN = 64

# Element-wise float work on full-resolution arrays (composites) is done in bands
# of about this many pixels, so temporaries stay small.
_BAND_PIXELS = 1 << 20


def estimate_foreground(image: np.ndarray, alpha: np.ndarray, method: str = DEFAULT_FOREGROUND) -> np.ndarray:
    """Foreground colours of an image given its alpha matte.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        alpha: ``(H, W)`` float in [0, 1].
        method: ``"fast"`` (the default: pymatting's multi-level energy solved
            on the transition band; on 25 RSSN composites closer to the true
            colours than ``"ml"`` in about an eighth of its time), ``"ml"``
            (pymatting multi-level), ``"cf"`` (closed form, slow; the closest),
            ``"blur"`` (Blur-Fusion: as quick as ``"fast"``, further from the
            true colours) or ``"none"`` (the image itself: the plain ``image x
            alpha`` cutout). Only ``"ml"`` and ``"cf"`` import pymatting.

    Returns:
        ``(H, W, 3)`` uint8 RGB foreground colours.
    """
    if method not in FOREGROUND_METHODS:
        raise InputError(f"unknown foreground method {method!r}; choose one of {', '.join(FOREGROUND_METHODS)}")
    if image.shape[:2] != alpha.shape:
        raise InputError(f"image {image.shape[:2]} and alpha {alpha.shape} sizes differ")
    if method == "none":
        return image.copy()
    if method == "blur":  # memory-bounded by itself: no tiles
        from gfm.inference.blur_fusion import estimate_foreground_blur_fusion

        return estimate_foreground_blur_fusion(image, alpha)
    height, width = alpha.shape
    if height * width <= SINGLE_PIECE_PIXELS[method]:
        return _solve(image, alpha, method)
    side, margin = TILE_SIDE[method], TILE_MARGIN
    foreground = np.empty_like(image)
    for top in range(0, height, side):
        for left in range(0, width, side):
            bottom, right = min(height, top + side), min(width, left + side)
            y0, x0 = max(0, top - margin), max(0, left - margin)
            y1, x1 = min(height, bottom + margin), min(width, right + margin)
            tile = _solve(np.ascontiguousarray(image[y0:y1, x0:x1]), np.ascontiguousarray(alpha[y0:y1, x0:x1]), method)
            foreground[top:bottom, left:right] = tile[top - y0 : bottom - y0, left - x0 : right - x0]
    return foreground


def _solve(image: np.ndarray, alpha: np.ndarray, method: str) -> np.ndarray:
    """One piece's colours by ``"fast"`` (:mod:`gfm.inference.band_solver`), ``"ml"`` or ``"cf"`` (pymatting)."""
    if method == "fast":
        from gfm.inference.band_solver import estimate_foreground_band

        return estimate_foreground_band(image, alpha)
    from gfm.data.foreground import estimate_foreground_colours

    return estimate_foreground_colours(image, alpha, method)


def _row_bands(height: int, width: int) -> range:
    """Start rows of bands of about :data:`_BAND_PIXELS` pixels."""
    return range(0, height, max(1, _BAND_PIXELS // max(1, width)))


def cutout(foreground: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``(H, W, 4)`` uint8 RGBA: foreground colours with the alpha as transparency.

    Fully transparent pixels (alpha 0 after 8-bit rounding) are stored black:
    their colour is invisible in any viewer, and runs of zeros make the PNG
    about a quarter smaller and faster to write than extrapolated colours.
    """
    a = alpha_to_uint8(alpha)
    height, width = a.shape
    rgba = np.empty((height, width, 4), np.uint8)
    rows = max(1, _BAND_PIXELS // max(1, width))  # in bands: the mask and colours stay small
    for top in range(0, height, rows):
        band = slice(top, top + rows)
        # OpenCV's masked AND and merge: about 15x faster than NumPy's boolean indexing (1620x1080: 3 vs 44 ms)
        visible = cv2.threshold(a[band], 0, 255, cv2.THRESH_BINARY)[1]
        colours = cv2.bitwise_and(foreground[band], foreground[band], mask=visible)
        cv2.merge([*cv2.split(colours), a[band]], dst=rgba[band])
    return rgba


def parse_color(text: str) -> tuple[int, int, int]:
    """A colour as RGB: CSS names, ``#rgb``, ``#rrggbb``, ``rgb(...)`` or ``r,g,b``
    (:func:`gfm.io.colors.parse_rgb`, the one colour parser of the CLI and the API)."""
    return parse_rgb(text)


def parse_background(text: str) -> tuple[int, int, int] | np.ndarray:
    """A composite background given as an image file or a colour (see :func:`parse_color`).

    Returns:
        ``(H, W, 3)`` uint8 RGB for an existing image file (read with
        :func:`gfm.io.read_image`, whose alpha-channel warning reaches the
        caller), else an RGB tuple.

    Raises:
        InputError: ``text`` names an image file that does not exist (it has
            an image suffix or a folder part), or is neither a file nor a colour.
    """
    from gfm.data.layouts import IMAGE_SUFFIXES
    from gfm.io import read_image

    path = Path(text).expanduser()
    if path.is_file():
        return read_image(path)
    if path.suffix.lower() in IMAGE_SUFFIXES or "/" in text or os.sep in text:
        raise InputError(f"background {text}: no such image file; give an existing image, or a colour ({COLOUR_FORMS})")
    return parse_color(text)


def cover(background: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize ``background`` to cover ``(height, width)`` with its aspect ratio kept, centre-cropped.

    The centre crop is taken from the background first and only that is
    resized, so memory is bounded by the output size whatever the
    background's shape (a 5000 x 1 strip would otherwise be scaled to
    gigapixels before the crop).
    """
    bh, bw = background.shape[:2]
    scale = max(height / bh, width / bw)
    crop_h, crop_w = min(bh, max(1, round(height / scale))), min(bw, max(1, round(width / scale)))
    top, left = (bh - crop_h) // 2, (bw - crop_w) // 2
    crop = background[top : top + crop_h, left : left + crop_w]
    return cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def composite(foreground: np.ndarray, alpha: np.ndarray, background: np.ndarray | Sequence[int]) -> np.ndarray:
    """Blend ``alpha F + (1 - alpha) B``.

    Args:
        foreground: ``(H, W, 3)`` uint8.
        alpha: ``(H, W)`` float in [0, 1].
        background: an RGB colour or an ``(h, w, 3)`` uint8 image (resized to cover).

    Returns:
        ``(H, W, 3)`` uint8 RGB. The float arithmetic runs in bands of rows,
        so memory beyond the result (and a fitted background image) stays small.
    """
    height, width = alpha.shape
    if isinstance(background, np.ndarray) and background.ndim == 3:
        back: np.ndarray = cover(background, height, width)
    else:
        back = np.broadcast_to(np.asarray(background, dtype=np.float32), (height, width, 3))
    out = np.empty((height, width, 3), np.uint8)
    step = max(1, _BAND_PIXELS // max(1, width))
    for top in _row_bands(height, width):
        rows = slice(top, top + step)
        a = alpha[rows].astype(np.float32)[..., None]
        blend = foreground[rows] * a
        blend += (1.0 - a) * back[rows]
        np.rint(blend, out=blend)
        np.clip(blend, 0, 255, out=blend)
        out[rows] = blend
    return out


def checkerboard(height: int, width: int, cell: int = 16) -> np.ndarray:
    """Light-gray checkerboard ``(H, W, 3)`` uint8, the usual transparency backdrop."""
    rows = (np.arange(height) // cell) % 2
    cols = (np.arange(width) // cell) % 2
    board = np.where((rows[:, None] + cols[None, :]) % 2 == 0, 255, 204).astype(np.uint8)
    return np.repeat(board[..., None], 3, axis=2)


def preview(image: np.ndarray, alpha: np.ndarray, foreground: np.ndarray, max_height: int = 720) -> np.ndarray:
    """Image, alpha and cutout (over a checkerboard) side by side, ``uint8`` RGB.

    Panels taller than ``max_height`` are scaled down first (area
    interpolation) and composed at that size, so a preview of a huge photo
    costs little memory.
    """
    height, width = alpha.shape
    if height > max_height:
        # at least one column: a very tall image (over ~4000:1) would round to none
        size = (max(1, round(width * max_height / height)), max_height)
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(alpha.astype(np.float32, copy=False), size, interpolation=cv2.INTER_AREA)
        foreground = cv2.resize(foreground, size, interpolation=cv2.INTER_AREA)
        if alpha.ndim == 1:  # cv2 drops a dimension of size one
            alpha = alpha.reshape(size[1], size[0])
        height, width = alpha.shape
    on_board = composite(foreground.reshape(height, width, 3), alpha, checkerboard(height, width))
    gray = np.repeat(alpha_to_uint8(alpha)[..., None], 3, axis=2)
    return np.concatenate([image.reshape(height, width, 3), gray, on_board], axis=1)
