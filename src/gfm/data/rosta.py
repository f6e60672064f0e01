"""RoSTa training targets (paper Sect. 3.4; SPEC section 2).

From a ground-truth alpha matte, each representation of semantic and
transition area (RoSTa) gives the Glance Decoder a class map and the Focus
Decoder a target with the pixels where it is supervised:

========  ===========================================  =============================  ==========================
RoSTa     glance classes                               focus target                   focus supervised where
========  ===========================================  =============================  ==========================
``TT``    trimap, 25 px ellipse: 0 bg, 1 trans., 2 fg   alpha                          trimap == 1
``FT``    F = erode(alpha == 1, 50 px ellipse): 0 / 1   alpha - F (clipped to [0, 1])  alpha > 0 and not F
``BT``    B = dilate(alpha > 0, 50 px ellipse): 0 / 1   B - alpha (clipped to [0, 1])  B and alpha < 1
========  ===========================================  =============================  ==========================

With these, the fusion rules give back alpha: TT: fg where GD says fg, FD in
the transition; FT: ``min(GD + FD, 1)``; BT: ``max(GD - FD, 0)``.

Kernels are OpenCV elliptical structuring elements
(``cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))``) applied once at the
alpha's own resolution. Glance maps and masks are label maps: resize them with
nearest neighbour only (:mod:`gfm.data.augment` does), then recompute the focus
target from the resized alpha with :func:`focus_target`.

Alpha inputs are ``uint8`` (0..255) or float in [0, 1]; "alpha == 1" means 255
(or 1.0) exactly and "alpha > 0" means any nonzero value.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import cv2
import numpy as np

from gfm.errors import ConfigError, InputError

RoSTa = Literal["TT", "FT", "BT"]
ROSTAS: tuple[str, ...] = ("TT", "FT", "BT")
TRIMAP_KERNEL = 25
BAND_KERNEL = 50
NUM_GLANCE_CLASSES = {"TT": 3, "FT": 2, "BT": 2}


@dataclass(frozen=True)
class RoStaTarget:
    """Targets of one sample.

    Attributes:
        glance: ``uint8 (H, W)`` class map (TT: 0/1/2; FT, BT: 0/1).
        focus: ``float32 (H, W)`` in [0, 1], the Focus Decoder's target.
        focus_mask: ``bool (H, W)``, where the focus target is supervised.
    """

    glance: np.ndarray
    focus: np.ndarray
    focus_mask: np.ndarray


def check_rosta(rosta: str) -> str:
    if rosta not in ROSTAS:
        raise ConfigError(f"unknown RoSTa {rosta!r}; expected one of {', '.join(ROSTAS)}")
    return rosta


@lru_cache(maxsize=8)
def ellipse(kernel: int) -> np.ndarray:
    """OpenCV's elliptical structuring element of size ``kernel x kernel``."""
    if kernel < 1:
        raise ConfigError(f"kernel size must be positive, got {kernel}")
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kernel, kernel))


def _masks(alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(alpha > 0, alpha == 1)`` as uint8 0/1 maps."""
    alpha = np.asarray(alpha)
    if alpha.ndim != 2:
        raise InputError(f"alpha must be (H, W), got shape {alpha.shape}")
    full = 255 if alpha.dtype == np.uint8 else 1.0
    if alpha.dtype != np.uint8 and alpha.dtype.kind != "f":
        raise InputError(f"alpha must be uint8 or float, got {alpha.dtype}")
    return (alpha > 0).astype(np.uint8), (alpha >= full).astype(np.uint8)


def make_trimap(alpha: np.ndarray, kernel: int = TRIMAP_KERNEL) -> np.ndarray:
    """Trimap from a matte: ``dilate(alpha > 0)`` minus ``erode(alpha == 1)``.

    Args:
        alpha: ``(H, W)`` uint8 or float matte.
        kernel: ellipse size in pixels (25 in the paper).

    Returns:
        ``uint8 (H, W)``: 0 background, 1 transition, 2 foreground.
    """
    some, full = _masks(alpha)
    k = ellipse(kernel)
    dilated = cv2.dilate(some, k)
    eroded = cv2.erode(full, k)
    return (dilated + eroded).astype(np.uint8)  # eroded is a subset of dilated


def make_glance_target(alpha: np.ndarray, rosta: str) -> np.ndarray:
    """The Glance Decoder's class map for ``rosta`` (see the module table)."""
    check_rosta(rosta)
    if rosta == "TT":
        return make_trimap(alpha, TRIMAP_KERNEL)
    some, full = _masks(alpha)
    if rosta == "FT":
        return cv2.erode(full, ellipse(BAND_KERNEL))
    return cv2.dilate(some, ellipse(BAND_KERNEL))


def glance_in_window(
    alpha: np.ndarray, rosta: str, top: int, left: int, height: int, width: int, *, trimap: bool = False
) -> np.ndarray:
    """:func:`make_glance_target` (or :func:`make_trimap` with ``trimap=True``)
    of the whole ``alpha``, cropped to a window, computed on the window only.

    The window is padded by the kernel's reach before the morphology, so the
    result equals cropping the full-image map exactly (tested), at a fraction
    of the cost when the window is small.
    """
    kernel = TRIMAP_KERNEL if (trimap or rosta == "TT") else BAND_KERNEL
    margin = kernel // 2 + 1
    h, w = alpha.shape[:2]
    y0, x0 = max(0, top - margin), max(0, left - margin)
    y1, x1 = min(h, top + height + margin), min(w, left + width + margin)
    patch = alpha[y0:y1, x0:x1]
    full = make_trimap(patch) if trimap else make_glance_target(patch, rosta)
    return np.ascontiguousarray(full[top - y0 : top - y0 + height, left - x0 : left - x0 + width])


def focus_target(alpha: np.ndarray, glance: np.ndarray, rosta: str) -> tuple[np.ndarray, np.ndarray]:
    """Focus target and its supervision mask from an alpha and its glance map.

    Works at any resolution as long as ``glance`` was resized by nearest
    neighbour from the full-resolution map; ``alpha`` may be interpolated.

    Args:
        alpha: ``(H, W)`` uint8 (0..255) or float matte in [0, 1].
        glance: ``(H, W)`` class map from :func:`make_glance_target`.
        rosta: ``"TT"``, ``"FT"`` or ``"BT"``.

    Returns:
        ``(focus float32 (H, W) in [0, 1], mask bool (H, W))``.
    """
    check_rosta(rosta)
    alpha = np.asarray(alpha)
    if alpha.shape != glance.shape:
        raise InputError(f"alpha {alpha.shape} and glance map {glance.shape} differ in shape")
    a = alpha.astype(np.float32) / 255.0 if alpha.dtype == np.uint8 else alpha.astype(np.float32)
    if rosta == "TT":
        return a, glance == 1
    g = glance.astype(np.float32)
    if rosta == "FT":
        return np.clip(a - g, 0.0, 1.0), (a > 0) & (glance == 0)
    return np.clip(g - a, 0.0, 1.0), (glance == 1) & (a < 1.0)


def make_rosta_target(alpha: np.ndarray, rosta: str) -> RoStaTarget:
    """All targets of ``rosta`` from a full-resolution ground-truth alpha.

    Example::

        >>> a = np.zeros((100, 100), np.uint8); a[30:70, 30:70] = 255
        >>> t = make_rosta_target(a, "TT")
        >>> sorted(np.unique(t.glance).tolist())
        [0, 1, 2]
    """
    glance = make_glance_target(alpha, rosta)
    focus, mask = focus_target(alpha, glance, rosta)
    return RoStaTarget(glance, focus, mask)


def fuse(glance: np.ndarray, focus: np.ndarray, rosta: str) -> np.ndarray:
    """Collaborative Matting on class maps (numpy reference, used to test targets).

    Args:
        glance: ``(H, W)`` class map; focus: ``(H, W)`` float in [0, 1].

    Returns:
        ``float32 (H, W)`` alpha.
    """
    check_rosta(rosta)
    focus = focus.astype(np.float32)
    if rosta == "TT":
        return np.where(glance == 2, 1.0, np.where(glance == 1, focus, 0.0)).astype(np.float32)
    if rosta == "FT":
        return np.minimum(glance.astype(np.float32) + focus, 1.0)
    return np.maximum(glance.astype(np.float32) - focus, 0.0)
