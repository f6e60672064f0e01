"""Foreground colours, cutouts, composites and previews.

A cutout made of ``image x alpha`` keeps the old background's colour in the
hair and fur (colour fringes). Estimating the foreground colours ``F`` of
``I = alpha F + (1 - alpha) B`` removes them; pymatting's multi-level method
(Germer et al. 2020) is the default, its closed-form method (Levin et al.)
the slow exact one.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from gfm.errors import InputError

FOREGROUND_METHODS = ("ml", "cf", "none")


def estimate_foreground(image: np.ndarray, alpha: np.ndarray, method: str = "ml") -> np.ndarray:
    """Foreground colours of an image given its alpha matte.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        alpha: ``(H, W)`` float in [0, 1].
        method: ``"ml"`` (pymatting multi-level, fast), ``"cf"`` (closed form,
            slow) or ``"none"`` (the image itself: the plain ``image x alpha`` cutout).

    Returns:
        ``(H, W, 3)`` uint8 RGB foreground colours.
    """
    if method not in FOREGROUND_METHODS:
        raise InputError(f"unknown foreground method {method!r}; choose one of {', '.join(FOREGROUND_METHODS)}")
    if image.shape[:2] != alpha.shape:
        raise InputError(f"image {image.shape[:2]} and alpha {alpha.shape} sizes differ")
    if method == "none":
        return image.copy()
    from gfm.data.foreground import estimate_foreground_colours

    return estimate_foreground_colours(image, alpha, method)


def cutout(foreground: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``(H, W, 4)`` uint8 RGBA: foreground colours with the alpha as transparency.

    Fully transparent pixels (alpha 0 after 8-bit rounding) are stored black:
    their colour is invisible in any viewer, and runs of zeros make the PNG
    about a quarter smaller and faster to write than extrapolated colours.
    """
    a = np.clip(np.rint(alpha * 255.0), 0, 255).astype(np.uint8)
    rgba = np.dstack([foreground, a])
    rgba[a == 0, :3] = 0
    return rgba


def parse_color(text: str) -> tuple[int, int, int]:
    """``"#00ff00"``, ``"0,255,0"`` or a name (white, black, green, blue, red, gray) -> RGB."""
    names = {"white": (255, 255, 255), "black": (0, 0, 0), "green": (0, 177, 64), "blue": (0, 71, 187), "red": (255, 0, 0), "gray": (128, 128, 128), "grey": (128, 128, 128)}
    value = text.strip().lower()
    if value in names:
        return names[value]
    try:
        if value.startswith("#") and len(value) == 7:
            return tuple(int(value[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]
        parts = [int(p) for p in value.split(",")]
        if len(parts) == 3 and all(0 <= p <= 255 for p in parts):
            return tuple(parts)  # type: ignore[return-value]
    except ValueError:
        pass
    raise InputError(f"cannot read colour {text!r}; use a name (white, green...), #rrggbb or r,g,b")


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
        ``(H, W, 3)`` uint8 RGB.
    """
    height, width = alpha.shape
    if isinstance(background, np.ndarray) and background.ndim == 3:
        back = cover(background, height, width).astype(np.float32)
    else:
        back = np.broadcast_to(np.asarray(background, dtype=np.float32), (height, width, 3))
    a = alpha.astype(np.float32)[..., None]
    return np.clip(np.rint(a * foreground.astype(np.float32) + (1.0 - a) * back), 0, 255).astype(np.uint8)


def checkerboard(height: int, width: int, cell: int = 16) -> np.ndarray:
    """Light-gray checkerboard ``(H, W, 3)`` uint8, the usual transparency backdrop."""
    yy, xx = np.indices((height, width))
    board = np.where(((yy // cell) + (xx // cell)) % 2 == 0, 255, 204).astype(np.uint8)
    return np.repeat(board[..., None], 3, axis=2)


def preview(image: np.ndarray, alpha: np.ndarray, foreground: np.ndarray, max_height: int = 720) -> np.ndarray:
    """Image, alpha and cutout (over a checkerboard) side by side, ``uint8`` RGB."""
    height, width = alpha.shape
    on_board = composite(foreground, alpha, checkerboard(height, width))
    gray = np.repeat(np.clip(np.rint(alpha * 255), 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    strip = np.concatenate([image, gray, on_board], axis=1)
    if height > max_height:
        # at least one column: a very tall image (over ~4000:1) would round to none
        new_width = max(1, round(strip.shape[1] * max_height / height))
        strip = cv2.resize(strip, (new_width, max_height), interpolation=cv2.INTER_AREA)
    return strip
