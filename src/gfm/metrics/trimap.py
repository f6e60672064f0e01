"""Trimaps from ground-truth alphas, as the AM-2k / P3M validation sets made them."""

from __future__ import annotations

import numpy as np

from gfm.errors import InputError

__all__ = ["DEFAULT_TRIMAP_KERNEL", "TRIMAP_BG", "TRIMAP_FG", "TRIMAP_TRANSITION", "trimap_from_alpha"]

#: Trimap values: background, transition (unknown) and foreground.
TRIMAP_BG, TRIMAP_TRANSITION, TRIMAP_FG = 0, 128, 255

#: Side of the elliptical structuring element (pixels) of the released trimaps.
DEFAULT_TRIMAP_KERNEL = 25


def trimap_from_alpha(alpha: np.ndarray, kernel_size: int = DEFAULT_TRIMAP_KERNEL) -> np.ndarray:
    """Trimap of a ground-truth alpha by dilation and erosion.

    ``255`` where the erosion of ``alpha == 1`` is set, ``0`` outside the
    dilation of ``alpha > 0``, ``128`` in between; both with a
    ``kernel_size x kernel_size`` elliptical kernel (OpenCV ``MORPH_ELLIPSE``,
    default borders, so the image edge neither erodes nor dilates). This
    reproduces the trimaps shipped with the AM-2k validation set.

    Args:
        alpha: ``(H, W)`` float alpha in [0, 1] (solid foreground is exactly 1).
        kernel_size: kernel side in pixels, >= 1.

    Returns:
        ``uint8`` ``(H, W)`` trimap with values 0 / 128 / 255.
    """
    from gfm.data.rosta import make_trimap  # one implementation of the 25 px trimap (0 / 1 / 2)

    alpha = np.asarray(alpha)
    if alpha.ndim != 2 or alpha.dtype.kind != "f":
        raise InputError(f"alpha must be a 2-D float array in [0, 1], got {alpha.dtype} {alpha.shape}")
    if kernel_size < 1:
        raise InputError(f"kernel_size must be >= 1, got {kernel_size}")
    return np.array([0, 128, 255], dtype=np.uint8)[make_trimap(alpha, kernel_size)]
