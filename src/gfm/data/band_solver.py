"""Foreground colours by a multi-level solver restricted to the transition band
(``--foreground fast``).

It minimises the energy of pymatting's multi-level method (Germer et al.
2020): for ``I = alpha F + (1 - alpha) B``, the compositing error plus
neighbour differences of ``F`` and ``B`` weighted by how much alpha changes
between the neighbours (``1e-5 + |alpha_i - alpha_j|``). The per-pixel update
is that method's (a 2 x 2 system per colour channel); what differs is where and
how it runs:

* Levels at 1/16, 1/8, 1/4, 1/2 and full size, each the area mean of the
  one above. The coarsest starts from the box means of Blur-Fusion (Forte and
  Pitie 2021, :func:`gfm.data.blur_fusion.coarse_means`) and is solved
  everywhere (20 Jacobi sweeps); each finer level starts from the one below,
  upsampled bilinearly.
* On the finer levels only pixels with ``0 < alpha < 1`` are solved (16, 16, 8
  and 3 Jacobi sweeps at 1/8, 1/4, 1/2 and full size): where ``alpha = 1``,
  ``F`` is the image, and where ``alpha = 0``, ``B`` is; the other colour of
  those pixels is the coarser level's. pymatting's method sweeps every pixel
  of every level; the transition band is typically a tenth of a photo.

On RSSN composites of 25 real photos (``benchmarks/foreground.py``) its
colours are closer to the true ones than pymatting's method's (alpha-weighted
error in the transition band 1.96 against 2.18 levels of 255; no worse on 21 of
the 25), in about an eighth of its time at 1620 x 1080 (median over six photos,
both on one thread). The time grows with the transition band's share of the
photo: at 46 % it was still 0.7 of pymatting's; GFM-Lite's own mattes of
sample6 at 1620 x 1080 have 34 % (0.15 s on one thread). So the sweeps run
in parallel (numba ``prange``, ``NUMBA_NUM_THREADS`` threads, which ``gfm
matte --threads`` sets; identical results, a Jacobi sweep reads only the
previous sweep): 0.10 s on two cores.

Compiled with numba (which pymatting brings) and cached on disk, in the user's cache
folder (:mod:`gfm.compiled_cache`; a read-only installation works): the first
use after installation compiles for about ten seconds (:func:`prepare`).
Memory: about 15 bytes a pixel (the result, an index map, the half-size
level's colours) and about 120 bytes a transition pixel (29 bytes a pixel in
all on a 10.7 MP photo with 11 % transition, pymatting's method 78);
:func:`gfm.inference.estimate_foreground` tiles images above 16 MP, as for
pymatting's method.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import cv2
import numpy as np

from gfm.compiled_cache import use_user_cache

use_user_cache()  # before the @njit(cache=True) below: compiled code goes to the user's cache folder

from numba import njit, prange  # noqa: E402

from gfm.data.blur_fusion import checked_alpha, coarse_means  # noqa: E402

COARSEST_FACTOR = 16  # the first level is this many times smaller on each side
COARSE_SWEEPS = 20  # Jacobi sweeps on the first (smallest) level, over every pixel
BAND_SWEEPS = {8: 16, 4: 16, 2: 8, 1: 3}  # Jacobi sweeps over the transition band, by level (reduction factor)
REGULARIZATION = 1e-5  # pymatting's defaults
GRADIENT_WEIGHT = 1.0


def prepare(on_slow: Callable[[], None] | None = None, slow_after: float = 2.0) -> None:
    """Compile (the first time after installation) or load the compiled solver now.

    Args:
        on_slow: called (once, from a timer thread) when this takes longer than
            ``slow_after`` seconds, that is when numba compiles: a command line
            uses it to say why it is waiting.
        slow_after: seconds.
    """
    timer = None
    if on_slow is not None:
        timer = threading.Timer(slow_after, on_slow)
        timer.daemon = True
        timer.start()
    try:
        estimate_foreground_band(np.zeros((4, 4, 3), np.uint8), np.full((4, 4), 0.5, np.float32))
    finally:
        if timer is not None:
            timer.cancel()


def estimate_foreground_band(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Foreground colours of ``image`` given its alpha matte.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        alpha: ``(H, W)`` float in [0, 1] (clipped) or uint8 0..255.

    Returns:
        ``(H, W, 3)`` uint8 RGB: ``image`` where ``alpha == 1``, the solution
        where ``0 < alpha < 1``, the coarser levels' extrapolated foreground
        where ``alpha == 0`` (invisible in any composite).

    Raises:
        InputError: wrong dtype or shape.
    """
    solved = _solve_levels(image, alpha)
    if solved is None:
        return image.copy()
    image, alpha, fg, bg, index, fg_band, bg_band = solved
    return _assemble_u8(image, alpha, fg, index, fg_band)


def estimate_foreground_background_band(image: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Foreground and background colours ``(F, B)``, both ``(H, W, 3)`` uint8 RGB, of the
    same solve as :func:`estimate_foreground_band` (``B`` = the image where ``alpha == 0``):
    what RSSN's foregrounds (``gfm prepare foregrounds --method fast``) need.

    Raises:
        InputError: wrong dtype or shape.
    """
    solved = _solve_levels(image, alpha)
    if solved is None:
        return image.copy(), image.copy()
    image, alpha, fg, bg, index, fg_band, bg_band = solved
    out_fg, out_bg = _assemble(image, alpha, fg, bg, index, fg_band, bg_band)
    return _float_to_u8(out_fg), _float_to_u8(out_bg)


def _float_to_u8(x: np.ndarray) -> np.ndarray:
    x *= np.float32(255.0)
    np.rint(x, out=x)
    np.clip(x, 0, 255, out=x)
    return x.astype(np.uint8)


def _solve_levels(image: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, ...] | None:
    """The multi-level solve: ``(image, alpha, coarse F, coarse B, band index, band F, band B)``
    at full resolution, ready to assemble; ``None`` for an empty image."""
    alpha = checked_alpha(image, alpha)
    height, width = alpha.shape
    if height == 0 or width == 0:
        return None
    image = np.ascontiguousarray(image)
    alpha = np.ascontiguousarray(alpha)

    # the levels, each the area mean of the one above: [(factor, image, alpha)], finest first
    levels = [(1, image, alpha)]
    while levels[-1][0] < COARSEST_FACTOR:
        factor, above_image, above_alpha = levels[-1]
        size = (math.ceil(height / factor / 2), math.ceil(width / factor / 2))
        levels.append((factor * 2, *_level(above_image, above_alpha, size)))
    # the first level: Blur-Fusion's box means, then sweeps over every pixel
    factor, small_image, small_alpha = levels.pop()
    fg, bg = coarse_means(image, alpha, factor)
    np.clip(fg * np.float32(1 / 255), 0, 1, out=fg)
    np.clip(bg * np.float32(1 / 255), 0, 1, out=bg)
    everywhere = np.arange(small_alpha.size, dtype=np.int32).reshape(small_alpha.shape)
    ys, xs = np.divmod(np.arange(small_alpha.size, dtype=np.int32), np.int32(small_alpha.shape[1]))
    fg_band, bg_band = _solve(small_image, small_alpha, fg, bg, everywhere, ys.astype(np.int32), xs.astype(np.int32),
                              COARSE_SWEEPS, np.float32(REGULARIZATION), np.float32(GRADIENT_WEIGHT))
    fg, bg = fg_band.reshape(fg.shape), bg_band.reshape(bg.shape)
    while levels:
        factor, level_image, level_alpha = levels.pop()
        index, ys, xs = _band(level_alpha)
        fg_band, bg_band = _solve(level_image, level_alpha, fg, bg, index, ys, xs,
                                  BAND_SWEEPS[factor], np.float32(REGULARIZATION), np.float32(GRADIENT_WEIGHT))
        if factor > 1:
            fg, bg = _assemble(level_image, level_alpha, fg, bg, index, fg_band, bg_band)
    return image, alpha, fg, bg, index, fg_band, bg_band


def _level(image: np.ndarray, alpha: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``image`` (uint8) and ``alpha`` (float32) reduced to ``size`` (rows, columns) by area means."""
    rows, cols = size
    small_image = cv2.resize(image, (cols, rows), interpolation=cv2.INTER_AREA).reshape(rows, cols, 3)
    small_alpha = cv2.resize(alpha, (cols, rows), interpolation=cv2.INTER_AREA).reshape(rows, cols)
    return np.ascontiguousarray(small_image), np.ascontiguousarray(small_alpha)


@njit(cache=True, nogil=True)
def _bilinear(coarse: np.ndarray, y: int, x: int, fy: float, fx: float, out: np.ndarray) -> None:
    """``coarse`` upsampled to the finer grid (pixel centres aligned, as cv2.resize), at ``(y, x)``: into ``out`` (3)."""
    ch, cw = coarse.shape[0], coarse.shape[1]
    cy = min(max((y + 0.5) * fy - 0.5, 0.0), ch - 1.0)
    cx = min(max((x + 0.5) * fx - 0.5, 0.0), cw - 1.0)
    y0, x0 = int(cy), int(cx)
    y1, x1 = min(y0 + 1, ch - 1), min(x0 + 1, cw - 1)
    wy, wx = cy - y0, cx - x0
    for c in range(3):
        top = (1 - wx) * coarse[y0, x0, c] + wx * coarse[y0, x1, c]
        bottom = (1 - wx) * coarse[y1, x0, c] + wx * coarse[y1, x1, c]
        out[c] = (1 - wy) * top + wy * bottom


@njit(cache=True, nogil=True)
def _band(alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pixels with ``0 < alpha < 1``: an index map (``-1`` elsewhere) and their rows and columns, in raster order."""
    height, width = alpha.shape
    counts = np.zeros(height, np.int64)
    for y in range(height):
        n = 0
        for x in range(width):
            if 0 < alpha[y, x] < 1:
                n += 1
        counts[y] = n
    starts = np.zeros(height + 1, np.int64)
    for y in range(height):
        starts[y + 1] = starts[y] + counts[y]
    index = np.empty((height, width), np.int32)
    ys = np.empty(starts[height], np.int32)
    xs = np.empty(starts[height], np.int32)
    for y in range(height):
        k = starts[y]
        for x in range(width):
            if 0 < alpha[y, x] < 1:
                index[y, x] = k
                ys[k] = y
                xs[k] = x
                k += 1
            else:
                index[y, x] = -1
    return index, ys, xs


@njit(cache=True, nogil=True, parallel=True)  # Jacobi: every pixel of a sweep is independent
def _solve(
    image: np.ndarray, alpha: np.ndarray, coarse_fg: np.ndarray, coarse_bg: np.ndarray, index: np.ndarray,
    ys: np.ndarray, xs: np.ndarray, sweeps: int, regularization: np.float32, gradient_weight: np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Jacobi sweeps of the multi-level method's update over the listed pixels.

    Args:
        image: ``(h, w, 3)`` uint8; alpha: ``(h, w)`` float32 of this level.
        coarse_fg, coarse_bg: ``(h', w', 3)`` float32 in [0, 1], the level below
            (or this level's start): the initial colours, and the fixed ones of
            the pixels not listed.
        index: ``(h, w)`` int32, each listed pixel's number, ``-1`` elsewhere.
        ys, xs: the listed pixels' rows and columns.

    Returns:
        ``(F, B)``: ``(n, 3)`` float32 in [0, 1] for the listed pixels.
    """
    height, width = alpha.shape
    fy, fx = coarse_fg.shape[0] / height, coarse_fg.shape[1] / width
    n = ys.size
    scale = np.float32(1 / 255)
    # what a sweep needs, computed once: the listed neighbours and their weights,
    # the constant part of each right-hand side (the pixel's own colour and the
    # fixed neighbours' colours), and the inverse of each 2 x 2 system
    neighbours = np.empty((n, 4), np.int32)
    weights = np.empty((n, 4), np.float32)
    constant = np.empty((n, 6), np.float32)  # F part (3), B part (3)
    inverse = np.empty((n, 3), np.float32)  # F = p bF + q bB, B = q bF + r bB
    fg = np.empty((n, 3), np.float32)
    bg = np.empty((n, 3), np.float32)
    for k in prange(n):
        sample = np.empty(3, np.float32)
        y, x = ys[k], xs[k]
        a0 = alpha[y, x]
        a1 = 1 - a0
        for c in range(3):
            value = image[y, x, c] * scale
            constant[k, c] = a0 * value
            constant[k, 3 + c] = a1 * value
        _bilinear(coarse_fg, y, x, fy, fx, fg[k])
        _bilinear(coarse_bg, y, x, fy, fx, bg[k])
        total = 0.0
        for d in range(4):
            y2, x2 = y, x
            if d == 0:
                x2 = max(x - 1, 0)
            elif d == 1:
                x2 = min(x + 1, width - 1)
            elif d == 2:
                y2 = max(y - 1, 0)
            else:
                y2 = min(y + 1, height - 1)
            neighbour_alpha = alpha[y2, x2]
            weight = regularization + gradient_weight * abs(a0 - neighbour_alpha)
            total += weight
            j = index[y2, x2]
            neighbours[k, d] = j
            weights[k, d] = weight
            if j >= 0:
                continue
            if neighbour_alpha >= 1:  # solid foreground: F is the image, B the level below's
                _bilinear(coarse_bg, y2, x2, fy, fx, sample)
                for c in range(3):
                    constant[k, c] += weight * image[y2, x2, c] * scale
                    constant[k, 3 + c] += weight * sample[c]
            else:  # background: B is the image, F the level below's
                _bilinear(coarse_fg, y2, x2, fy, fx, sample)
                for c in range(3):
                    constant[k, c] += weight * sample[c]
                    constant[k, 3 + c] += weight * image[y2, x2, c] * scale
        a00 = a0 * a0 + total
        a11 = a1 * a1 + total
        a01 = a0 * a1
        determinant = a00 * a11 - a01 * a01
        inverse[k, 0] = a11 / determinant
        inverse[k, 1] = -a01 / determinant
        inverse[k, 2] = a00 / determinant
    new_fg = np.empty_like(fg)
    new_bg = np.empty_like(bg)
    for _ in range(sweeps):
        for k in prange(n):
            f0, f1, f2 = constant[k, 0], constant[k, 1], constant[k, 2]
            b0, b1, b2 = constant[k, 3], constant[k, 4], constant[k, 5]
            for d in range(4):
                j = neighbours[k, d]
                if j >= 0:
                    weight = weights[k, d]
                    f0 += weight * fg[j, 0]
                    f1 += weight * fg[j, 1]
                    f2 += weight * fg[j, 2]
                    b0 += weight * bg[j, 0]
                    b1 += weight * bg[j, 1]
                    b2 += weight * bg[j, 2]
            p, q, r = inverse[k, 0], inverse[k, 1], inverse[k, 2]
            new_fg[k, 0] = min(1.0, max(0.0, p * f0 + q * b0))
            new_fg[k, 1] = min(1.0, max(0.0, p * f1 + q * b1))
            new_fg[k, 2] = min(1.0, max(0.0, p * f2 + q * b2))
            new_bg[k, 0] = min(1.0, max(0.0, q * f0 + r * b0))
            new_bg[k, 1] = min(1.0, max(0.0, q * f1 + r * b1))
            new_bg[k, 2] = min(1.0, max(0.0, q * f2 + r * b2))
        fg, new_fg = new_fg, fg
        bg, new_bg = new_bg, bg
    return fg, bg


def _assemble(image: np.ndarray, alpha: np.ndarray, coarse_fg: np.ndarray, coarse_bg: np.ndarray, index: np.ndarray,
              fg: np.ndarray, bg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A level's full ``(F, B)``, ``(h, w, 3)`` float32: the band's solution, the
    image where it is known (``F`` at alpha 1, ``B`` at alpha 0), the level below
    (bilinearly upsampled) elsewhere."""
    size = (alpha.shape[1], alpha.shape[0])
    out_fg = cv2.resize(coarse_fg, size, interpolation=cv2.INTER_LINEAR).reshape(*alpha.shape, 3)
    out_bg = cv2.resize(coarse_bg, size, interpolation=cv2.INTER_LINEAR).reshape(*alpha.shape, 3)
    _fill(image, alpha, index, fg, bg, out_fg, out_bg)
    return out_fg, out_bg


@njit(cache=True, nogil=True)
def _fill(image: np.ndarray, alpha: np.ndarray, index: np.ndarray, fg: np.ndarray, bg: np.ndarray,
          out_fg: np.ndarray, out_bg: np.ndarray) -> None:
    """In place: the band's solution, ``F`` = image at alpha 1, ``B`` = image at alpha 0."""
    height, width = alpha.shape
    scale = np.float32(1 / 255)
    for y in range(height):
        for x in range(width):
            j = index[y, x]
            if j >= 0:
                for c in range(3):
                    out_fg[y, x, c] = fg[j, c]
                    out_bg[y, x, c] = bg[j, c]
            elif alpha[y, x] >= 1:
                for c in range(3):
                    out_fg[y, x, c] = image[y, x, c] * scale
            else:
                for c in range(3):
                    out_bg[y, x, c] = image[y, x, c] * scale


def _assemble_u8(image: np.ndarray, alpha: np.ndarray, coarse_fg: np.ndarray, index: np.ndarray, fg: np.ndarray) -> np.ndarray:
    """The full-size foreground, uint8: the image at alpha 1, the band's
    solution, the level below's extrapolation (upsampled) at alpha 0."""
    coarse_u8 = cv2.multiply(coarse_fg, (255.0, 255.0, 255.0, 0.0), dtype=cv2.CV_8U)  # rounded, saturated
    out = cv2.resize(coarse_u8, (alpha.shape[1], alpha.shape[0]), interpolation=cv2.INTER_LINEAR).reshape(image.shape)
    _fill_u8(image, alpha, index, fg, out)
    return out


@njit(cache=True, nogil=True)
def _fill_u8(image: np.ndarray, alpha: np.ndarray, index: np.ndarray, fg: np.ndarray, out: np.ndarray) -> None:
    """In place: the image at alpha 1, the band's solution rounded to 0..255."""
    height, width = alpha.shape
    for y in range(height):
        for x in range(width):
            j = index[y, x]
            if j >= 0:
                for c in range(3):
                    out[y, x, c] = np.uint8(min(255.0, max(0.0, fg[j, c] * 255 + 0.5)))
            elif alpha[y, x] >= 1:
                for c in range(3):
                    out[y, x, c] = image[y, x, c]
