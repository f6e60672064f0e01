"""Checking the arrays a metric is given, with messages that say what to do.

Every public metric of :mod:`gfm.metrics.matting` runs its inputs through these
before computing: alphas must be finite floating-point ``(H, W)`` arrays in
[0, 1] of one shape, and a trimap a ``(H, W)`` array of 0 / 128 / 255 of the
same shape. Nothing is converted silently (an 8-bit matte is refused with the
hint to divide by 255).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gfm.errors import InputError
from gfm.metrics.trimap import TRIMAP_BG, TRIMAP_FG, TRIMAP_TRANSITION

__all__ = ["check_alpha", "check_pair", "check_trimap"]


def check_alpha(name: str, array: Any) -> np.ndarray:
    """Return ``array`` as float64 ``(H, W)``, or raise :class:`InputError`."""
    if not isinstance(array, np.ndarray):
        raise InputError(f"{name} must be a numpy array, got {type(array).__name__}")
    if array.ndim == 3 and array.shape[2] == 1:
        raise InputError(f"{name} has shape {array.shape}; pass a 2-D (H, W) matte, e.g. {name}[..., 0]")
    if array.ndim != 2:
        raise InputError(f"{name} must be a 2-D (H, W) alpha matte, got shape {array.shape}")
    if array.size == 0:
        raise InputError(f"{name} is empty (shape {array.shape})")
    if array.dtype.kind != "f":
        hint = " (8-bit? divide by 255.0)" if array.dtype == np.uint8 else ""
        raise InputError(
            f"{name} must be a floating-point matte in [0, 1], got dtype {array.dtype}{hint}; "
            f"convert with {name}.astype(np.float64) / MAX_VALUE"
        )
    array = np.asarray(array, dtype=np.float64)
    low, high = float(array.min()), float(array.max())
    if np.isnan(low) or np.isnan(high):
        raise InputError(f"{name} contains NaN values; an alpha matte must be finite, in [0, 1]")
    if low < 0.0 or high > 1.0:
        raise InputError(
            f"{name} has values in [{low:g}, {high:g}], outside [0, 1]; "
            "divide 8-bit mattes by 255 (16-bit by 65535) or clip the prediction to [0, 1]"
        )
    return array


def check_pair(pred: Any, gt: Any) -> tuple[np.ndarray, np.ndarray]:
    """Both alphas checked (:func:`check_alpha`), and of one shape."""
    pred = check_alpha("pred", pred)
    gt = check_alpha("gt", gt)
    if pred.shape != gt.shape:
        raise InputError(
            f"pred has shape {pred.shape} but gt has shape {gt.shape}; "
            "resize the prediction to the ground truth's size before evaluating"
        )
    return pred, gt


def check_trimap(trimap: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Return ``trimap`` as uint8 ``(H, W)`` with values in {0, 128, 255}."""
    if not isinstance(trimap, np.ndarray):
        raise InputError(f"trimap must be a numpy array, got {type(trimap).__name__}")
    if trimap.shape != shape:
        raise InputError(
            f"trimap has shape {trimap.shape} but the alphas have shape {shape}; "
            "pass a 2-D (H, W) trimap of the ground truth's size"
        )
    if trimap.dtype != np.uint8:
        if trimap.dtype.kind not in "uif":
            raise InputError(f"trimap must be uint8 with values 0/128/255, got dtype {trimap.dtype}")
        as_uint8 = trimap.astype(np.uint8)
        if not np.array_equal(as_uint8, trimap):
            raise InputError(
                "trimap must hold only the values 0, 128 and 255 (uint8); "
                f"got dtype {trimap.dtype} with other values"
            )
        trimap = as_uint8
    counts = np.bincount(trimap.ravel(), minlength=256)
    counts[[TRIMAP_BG, TRIMAP_TRANSITION, TRIMAP_FG]] = 0
    if counts.any():
        bad = np.flatnonzero(counts)
        shown = ", ".join(str(v) for v in bad[:8]) + (", ..." if bad.size > 8 else "")
        raise InputError(
            f"trimap has values other than 0/128/255 ({shown}; {int(counts.sum())} pixels); "
            "it was probably resized with interpolation: resize trimaps with nearest-neighbour, "
            "or snap each value to the nearest of 0/128/255"
        )
    return trimap
