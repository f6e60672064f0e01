"""Reading alpha and trimap files as the paper's numbers read them.

The metrics of :mod:`gfm.metrics.matting` take arrays; these two functions
turn files into the arrays that reproduce published numbers:

* :func:`load_alpha_exact`: 8-bit ``value / 255`` and 16-bit ``value / 65535``
  in float64 (float32 moves pixels across a connectivity threshold);
* :func:`load_trimap`: 0 / 128 / 255, refusing (or snapping) other values.

Example::

    from gfm.metrics import evaluate_alpha, load_alpha_exact, load_trimap
    scores = evaluate_alpha(load_alpha_exact("pred.png"), load_alpha_exact("gt.png"), load_trimap("trimap.png"))
"""

from __future__ import annotations

import os

import numpy as np

from gfm.errors import InputError
from gfm.io import read_alpha
from gfm.metrics.trimap import TRIMAP_BG, TRIMAP_FG, TRIMAP_TRANSITION

__all__ = ["load_alpha_exact", "load_trimap"]

_TRIMAP_VALUES = np.array([TRIMAP_BG, TRIMAP_TRANSITION, TRIMAP_FG])


def load_alpha_exact(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an alpha file as the float64 values the paper's numbers used.

    8-bit files give ``value / 255`` and 16-bit files ``value / 65535``,
    exactly in float64 (``gfm.io.read_alpha`` returns float32, whose rounding
    moves pixels such as 153/255 across a connectivity threshold and changes
    CONN by about 0.2 %). Floating-point files keep their values.

    Returns:
        ``float64`` ``(H, W)`` array in [0, 1].
    """
    alpha = read_alpha(path).astype(np.float64)
    # 8-bit k/255 is (k*257)/65535: both integer depths sit on the 1/65535
    # grid, where float32 rounding is far below half a step.
    scaled = alpha * 65535.0
    grid = np.rint(scaled)
    if float(np.max(np.abs(scaled - grid))) < 0.01:
        return grid / 65535.0
    return alpha


def load_trimap(path: str | os.PathLike[str], snap: bool = False) -> np.ndarray:
    """Read a trimap: ``uint8`` ``(H, W)`` with values 0 / 128 / 255.

    Args:
        path: 8- or 16-bit grayscale file (an RGB file with equal channels
            is accepted).
        snap: map every value to the nearest of 0 / 128 / 255 (64 goes to
            128) instead of refusing a file with other values (as left by
            resizing a trimap with interpolation).

    Raises:
        InputError: values other than 0 / 128 / 255 and ``snap`` is False.
    """
    values = np.rint(read_alpha(path).astype(np.float64) * 255.0).astype(np.uint8)
    counts = np.bincount(values.ravel(), minlength=256)
    counts[_TRIMAP_VALUES] = 0
    if not counts.any():
        return values
    if snap:
        # nearest of 0/128/255; the tie at 64 goes to the transition
        table = np.full(256, TRIMAP_TRANSITION, dtype=np.uint8)
        table[:64] = TRIMAP_BG
        table[192:] = TRIMAP_FG
        return table[values]
    bad = np.flatnonzero(counts)
    shown = ", ".join(str(v) for v in bad[:8]) + (", ..." if bad.size > 8 else "")
    raise InputError(
        f"{path}: trimap has values other than 0/128/255 ({shown} in {int(counts.sum())} pixels), "
        "probably from resizing with interpolation; fix the file (nearest-neighbour resize) or "
        "pass snap_trimaps=True / --snap-trimaps to map each value to the nearest of 0/128/255"
    )
