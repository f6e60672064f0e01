"""Working sizes: resize with the aspect ratio kept, pad to a multiple of 32.

The released code makes sizes multiples of 32 by resizing each side on its
own (distorting the image) and caps each side at 1600 independently; here the
image is scaled uniformly and padded instead, and a pixel budget bounds memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

# Working-resolution budget: 1600 x 1600 content pixels a pass (the released
# code caps each side at 1600). Bounds memory for huge photos.
DEFAULT_MAX_PIXELS = 1600 * 1600
MIN_SIDE = 64  # smaller working sizes are upscaled: the encoder needs a few pixels at stride 32


@dataclass(frozen=True)
class WorkingSize:
    """How an ``(H, W)`` image maps to the network.

    Attributes:
        height, width: resized content size (aspect ratio of the input).
        padded_height, padded_width: network input size, multiples of ``multiple``.
    """

    height: int
    width: int
    padded_height: int
    padded_width: int


def working_size(height: int, width: int, scale: float, max_pixels: int, multiple: int = 32) -> WorkingSize:
    """The content and padded sizes of an image scaled by ``scale``.

    The scale is reduced so the content stays within ``max_pixels`` and
    raised so its shorter side is at least :data:`MIN_SIDE`, as far as the
    budget allows: a sliver such as 2 x 20000 is scaled to fit the budget
    with its short side padded up to :data:`MIN_SIDE` (never a pass of
    hundreds of megapixels).
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"image has zero size ({height}x{width})")
    s = scale
    rounding = round
    if height * width * s * s > max_pixels:
        s = math.sqrt(max_pixels / (height * width))
        rounding = math.floor  # stay within the budget
    if min(height, width) * s < MIN_SIDE:
        # Upscale the short side to MIN_SIDE, unless the padded pass would then
        # exceed the budget: then the largest scale whose padded pass fits.
        upscale = MIN_SIDE / min(height, width)
        fitting = max_pixels / (MIN_SIDE * max(height, width))
        s, rounding = (upscale, math.ceil) if upscale <= fitting else (fitting, math.floor)
    h, w = max(1, int(rounding(height * s))), max(1, int(rounding(width * s)))
    floor = max(MIN_SIDE, multiple)
    return WorkingSize(h, w, max(floor, -(-h // multiple) * multiple), max(floor, -(-w // multiple) * multiple))


def bucketed(size: WorkingSize, step: int | None) -> WorkingSize:
    """``size`` with its padded sides rounded up to multiples of ``step`` (``None``: unchanged).

    The content size stays; only the padding grows (by less than ``step`` a side), so
    photos of many sizes share a few network input shapes. On a GPU every new shape
    costs kernel selection and loading; the extra padding changes the alpha near the
    border slightly (the network sees more mirrored image there).
    """
    if step is None:
        return size
    return WorkingSize(size.height, size.width, -(-size.padded_height // step) * step, -(-size.padded_width // step) * step)


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize with area averaging when shrinking (no aliasing) and bilinear when enlarging."""
    if image.shape[:2] == (height, width):
        return image
    shrinking = height * width < image.shape[0] * image.shape[1]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def to_network_input(image: np.ndarray, size: WorkingSize) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB -> ``(padded_h, padded_w, 3)`` float32 in 0..255.

    The padding mirrors the border (reflect-101), which keeps convolution
    statistics at the edge close to the image's; tiny images are replicated.
    """
    resized = resize(image, size.height, size.width).astype(np.float32)
    pad_h, pad_w = size.padded_height - size.height, size.padded_width - size.width
    if pad_h or pad_w:
        mode = cv2.BORDER_REFLECT_101 if pad_h < size.height and pad_w < size.width else cv2.BORDER_REPLICATE
        resized = cv2.copyMakeBorder(resized, 0, pad_h, 0, pad_w, mode)
    return resized


def from_network_output(map_: np.ndarray, size: WorkingSize, height: int, width: int, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Crop the padding off a ``(padded_h, padded_w[, C])`` map and resize it to ``(height, width)``."""
    cropped = np.ascontiguousarray(map_[: size.height, : size.width])
    if cropped.shape[:2] == (height, width):
        return cropped
    return cv2.resize(cropped, (width, height), interpolation=interpolation)
