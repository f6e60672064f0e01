"""Foreground colours by Blur-Fusion (Forte and Pitie, "Approximate Fast
Foreground Colour Estimation", ICIP 2021), in NumPy and OpenCV.

For ``I = alpha F + (1 - alpha) B`` the estimator takes local alpha-weighted
means of the foreground and background colours,

    F^ = box(F alpha) / box(alpha),    B^ = box(B (1 - alpha)) / box(1 - alpha),

and corrects them by the compositing residual,

    F = F^ + alpha (I - alpha F^ - (1 - alpha) B^)

(``B`` likewise with ``1 - alpha``). Two passes, "Blur-Fusion x2": a first one
with a 90-pixel box starting from ``F = B = I``, a second one with a 6-pixel
box starting from the first pass's colours.

Only pixels with ``0 < alpha < 1`` need the estimate: the formula gives
``F = I`` where ``alpha = 1``, and colours where ``alpha = 0`` are invisible
in any composite. So this implementation

* runs the first pass on a 4x smaller copy (a 90-pixel box mean is smooth:
  on most photos this changes the final colours by a fraction of a level,
  alpha-weighted),
* runs the second pass only in rectangles of 32-pixel tiles that hold
  transition pixels, each with the 4 pixels of context the 6-pixel box reads,
* copies ``I`` where ``alpha = 1`` and, where ``alpha = 0``, keeps the first
  pass's foreground mean (so a downscaled foreground does not bleed the old
  background into the edge; black further than about 45 pixels from any
  foreground).

Memory stays bounded whatever the size, so large images need no tiles:
besides the result (3 bytes a pixel) there are the first pass's small copies
(about 5 bytes a pixel) and the temporaries of one rectangle (at most 40 rows)
at a time: 14 bytes a pixel in all at 3 MP with the whole image in transition,
where pymatting's multi-level method needs about 75.

Box means are a cruder prior than the multi-level method's: over a wide soft
edge (a 20-pixel ramp of alpha between two flat colours) some of the old
background stays in the colours, which that method recovers almost exactly;
and on RSSN composites of real photos (``benchmarks/foreground.py``) its
colours are further from the truth, at a small fraction of the time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import cv2
import numpy as np

from gfm.errors import InputError

LARGE_BOX = 90  # pixels: first pass
SMALL_BOX = 6  # pixels: second pass
COARSE_FACTOR = 4  # the first pass runs on a copy this many times smaller on each side
_TILE = 32  # pixels: granularity of the second pass's rectangles
_CONTEXT = 4  # pixels of context around a rectangle: the 6-pixel box reads 3 on one side, 2 on the other
_EPS = 1e-6  # guards the divisions by box means of alpha and 1 - alpha


def checked_alpha(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The checks of the foreground estimators' inputs; returns ``alpha`` as float32 in [0, 1].

    Raises:
        InputError: ``image`` is not ``(H, W, 3)`` uint8, ``alpha`` not ``(H, W)`` uint8 or float.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"image must be uint8 (H, W, 3), got {image.dtype} {image.shape}")
    if alpha.shape != image.shape[:2]:
        raise InputError(f"alpha {alpha.shape} does not match image {image.shape}")
    if alpha.dtype == np.uint8:
        alpha = alpha.astype(np.float32) * np.float32(1 / 255)
    elif alpha.dtype.kind == "f":
        alpha = np.clip(alpha.astype(np.float32, copy=False), 0.0, 1.0)
    else:
        raise InputError(f"alpha must be float in [0, 1] or uint8, got {alpha.dtype}")
    return alpha


def estimate_foreground_blur_fusion(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Foreground colours of ``image`` given its alpha matte, by Blur-Fusion x2.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        alpha: ``(H, W)`` float in [0, 1] (clipped) or uint8 0..255.

    Returns:
        ``(H, W, 3)`` uint8 RGB: ``image`` where ``alpha == 1``, the estimate
        where ``0 < alpha < 1``, an extrapolated foreground colour (or black,
        far from any foreground) where ``alpha == 0``.

    Raises:
        InputError: wrong dtype or shape.

    Example:
        >>> image = np.full((8, 8, 3), 200, np.uint8)
        >>> estimate_foreground_blur_fusion(image, np.ones((8, 8), np.float32))[0, 0].tolist()
        [200, 200, 200]
    """
    alpha = checked_alpha(image, alpha)
    height, width = alpha.shape
    if height == 0 or width == 0:
        return image.copy()

    coarse_fg, coarse_bg = coarse_means(image, alpha, COARSE_FACTOR)
    # alpha = 0: the coarse foreground mean, upsampled (the rectangles below overwrite the rest)
    coarse_u8 = np.clip(np.rint(coarse_fg), 0, 255).astype(np.uint8)
    rows, cols = coarse_fg.shape[0] * COARSE_FACTOR, coarse_fg.shape[1] * COARSE_FACTOR
    out = cv2.resize(coarse_u8, (cols, rows), interpolation=cv2.INTER_LINEAR)[:height, :width]
    if out.shape[0] != rows or out.shape[1] != cols:
        out = np.ascontiguousarray(out)
    solid, mixed = _tile_kinds(alpha)
    for y0, y1, x0, x1 in _runs(solid, height, width, join=False):
        out[y0:y1, x0:x1] = image[y0:y1, x0:x1]  # alpha = 1: F = I
    for y0, y1, x0, x1 in _runs(mixed, height, width, join=True):
        cy0, cy1 = max(0, y0 - _CONTEXT), min(height, y1 + _CONTEXT)
        cx0, cx1 = max(0, x0 - _CONTEXT), min(width, x1 + _CONTEXT)
        colours = _second_pass(image[cy0:cy1, cx0:cx1], alpha[cy0:cy1, cx0:cx1],
                               _upsample(coarse_fg, cy0, cy1, cx0, cx1), _upsample(coarse_bg, cy0, cy1, cx0, cx1))
        inner = (slice(y0 - cy0, y1 - cy0), slice(x0 - cx0, x1 - cx0))
        np.copyto(out[y0:y1, x0:x1], colours[inner], where=alpha[y0:y1, x0:x1, None] > 0)
    return out


def _block_means(x: np.ndarray, f: int) -> np.ndarray:
    """Means of ``x`` over ``f x f`` blocks, the last row and column of blocks
    partial when the size is not a multiple of ``f``: ``(ceil(H / f), ceil(W / f), ...)`` float32."""
    height, width = x.shape[:2]
    rows, cols = height // f, width // f
    out = np.empty((math.ceil(height / f), math.ceil(width / f), *x.shape[2:]), np.float32)

    def mean(part: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        # INTER_AREA by an integer factor is the block mean; the partial blocks are one row or column
        return cv2.resize(part.astype(np.float32, copy=False) if part.dtype != np.uint8 else part, size,
                          interpolation=cv2.INTER_AREA).astype(np.float32).reshape(size[1], size[0], *x.shape[2:])

    if rows and cols:
        out[:rows, :cols] = mean(x[: rows * f, : cols * f], (cols, rows))
    if width % f and rows:
        out[:rows, cols] = mean(x[: rows * f, cols * f :], (1, rows))[:, 0]
    if height % f and cols:
        out[rows, :cols] = mean(x[rows * f :, : cols * f], (cols, 1))[0]
    if width % f and height % f:
        out[rows, cols] = x[rows * f :, cols * f :].reshape(-1, *x.shape[2:]).mean(axis=0)
    return out


def coarse_means(image: np.ndarray, alpha: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """First pass: ``F^`` and ``B^`` of a 90-pixel box, on a copy ``factor`` times smaller.

    Args:
        image: ``(H, W, 3)`` uint8; alpha: ``(H, W)`` float32 in [0, 1].
        factor: the copy's reduction on each side (4 here; 16 to start
            :mod:`gfm.data.band_solver`).

    The image and alpha are reduced to their ``factor x factor`` block means and ``alpha I``
    is taken as their product: inside a block the two vary together only at an
    edge, and a 90-pixel mean hardly notices.

    Returns:
        ``(F^, B^)``, float32 ``(ceil(H / factor), ceil(W / factor), 3)`` on the
        0..255 scale; ``F^`` is 0 where no foreground lies within the box.
    """
    f = factor
    plain = _block_means(image, f)
    coverage = _block_means(alpha, f)
    weighted = plain * coverage[..., None]
    kernel = max(1, round(LARGE_BOX / f))
    box = (kernel, kernel)
    weighted, plain = cv2.blur(weighted, box), cv2.blur(plain, box)
    mean_alpha = cv2.blur(coverage, box)[..., None]
    fg = weighted / np.maximum(mean_alpha, _EPS)
    plain -= weighted
    plain /= np.maximum(1 - mean_alpha, _EPS)
    return fg, plain


def _upsample(coarse: np.ndarray, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """Rows ``y0:y1``, columns ``x0:x1`` of ``coarse`` bilinearly upsampled by
    ``COARSE_FACTOR`` (pixel centres aligned, as ``cv2.resize`` does), computed
    from the few coarse pixels that rectangle needs."""
    f = COARSE_FACTOR
    top, left = max(0, y0 // f - 1), max(0, x0 // f - 1)
    window = coarse[top : (y1 - 1) // f + 2, left : (x1 - 1) // f + 2]
    to_window = np.array([[1 / f, 0, (x0 + 0.5) / f - 0.5 - left], [0, 1 / f, (y0 + 0.5) / f - 0.5 - top]])
    return cv2.warpAffine(window, to_window, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def _second_pass(image: np.ndarray, alpha: np.ndarray, coarse_fg: np.ndarray, coarse_bg: np.ndarray) -> np.ndarray:
    """Both passes' corrections and the second pass's 6-pixel box means, on one rectangle.

    Args:
        image: ``(h, w, 3)`` uint8; alpha: ``(h, w)`` float32; coarse_fg,
            coarse_bg: ``(h, w, 3)`` float32, the first pass's ``F^`` and ``B^``.

    Returns:
        ``(h, w, 3)`` uint8 foreground colours (exact where the 6-pixel box
        stays inside the rectangle).
    """
    # OpenCV's element-wise operations on same-shaped arrays are several times
    # faster than NumPy's broadcasting of a one-channel alpha.
    i = image.astype(np.float32)
    a = cv2.merge([alpha, alpha, alpha])
    b = 1 - a
    weighted_fg = cv2.multiply(a, coarse_fg)  # a F^
    weighted_bg = cv2.multiply(b, coarse_bg)  # (1 - a) B^
    residual = cv2.subtract(cv2.subtract(i, weighted_fg), weighted_bg)
    # first pass: F = F^ + a r and B = B^ + (1 - a) r, clipped, then weighted by a and 1 - a
    # (np.clip: an OpenCV scalar bound would reach only the first channel)
    fg = cv2.multiply(np.clip(cv2.add(coarse_fg, cv2.multiply(a, residual)), 0.0, 255.0), a)
    bg = cv2.multiply(np.clip(cv2.add(coarse_bg, cv2.multiply(b, residual)), 0.0, 255.0), b)
    box = (SMALL_BOX, SMALL_BOX)
    mean_alpha = cv2.blur(alpha, box)
    fg_mean = cv2.divide(cv2.blur(fg, box), cv2.merge([np.maximum(mean_alpha, _EPS)] * 3))
    bg_mean = cv2.divide(cv2.blur(bg, box), cv2.merge([np.maximum(1 - mean_alpha, _EPS)] * 3))
    # second pass: F = F^ + a (I - a F^ - (1 - a) B^)
    residual = cv2.subtract(cv2.subtract(i, cv2.multiply(a, fg_mean)), cv2.multiply(b, bg_mean))
    fg = cv2.add(fg_mean, cv2.multiply(a, residual))
    return cv2.add(fg, 0.0, dtype=cv2.CV_8U)  # rounded to nearest, saturated to 0..255


def _tile_kinds(alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which 32-pixel tiles are solid (alpha 1 throughout) and which mixed
    (some alpha between 0 and 1, or both 0 and 1): two ``(ceil(H / 32), ceil(W / 32))`` booleans."""
    height, width = alpha.shape
    rows, cols = np.arange(0, height, _TILE), np.arange(0, width, _TILE)
    low = np.minimum.reduceat(np.minimum.reduceat(alpha, rows, axis=0), cols, axis=1)
    high = np.maximum.reduceat(np.maximum.reduceat(alpha, rows, axis=0), cols, axis=1)
    solid = low == 1
    return solid, ~solid & (high > 0)


def _runs(tiles: np.ndarray, height: int, width: int, join: bool) -> Iterator[tuple[int, int, int, int]]:
    """``(y0, y1, x0, x1)`` pixel rectangles of the runs of ``True`` tiles in each
    row of tiles (with ``join``, runs one tile apart are one rectangle: cheaper
    than two)."""
    for row, flags in enumerate(tiles):
        columns = np.flatnonzero(flags)
        if columns.size == 0:
            continue
        breaks = np.flatnonzero(np.diff(columns) > (2 if join else 1))
        starts = np.concatenate([[columns[0]], columns[breaks + 1]])
        ends = np.concatenate([columns[breaks], [columns[-1]]])
        y0, y1 = row * _TILE, min(height, (row + 1) * _TILE)
        for first, last in zip(starts, ends):
            yield y0, y1, int(first) * _TILE, min(width, (int(last) + 1) * _TILE)
