"""Foreground (and background) colours from an image and its alpha matte.

RSSN's first step: ``F`` and ``B`` such that ``I = alpha F + (1 - alpha) B``,
estimated by the closed-form method of Levin et al. (2008) as implemented by
pymatting (``estimate_foreground_cf``), or by pymatting's multi-level method
(``estimate_foreground_ml``, Germer et al. 2020), which is tens of times faster
with nearly the same colours. Not ``I x alpha``, which leaves the old
background's colour in every soft pixel (SPEC section 8).

pymatting is an optional dependency (``pip install gfm[data]``), imported
lazily: its first import compiles with numba for about a minute, then the
compiled code is cached.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from gfm.errors import ConfigError, InputError

FgMethod = Literal["cf", "ml"]
FG_METHODS: tuple[str, ...] = ("cf", "ml")


def _pymatting():  # noqa: ANN202 - module
    try:
        import pymatting
    except ImportError:
        raise ConfigError(
            "foreground estimation needs pymatting: pip install 'gfm[data]' (or pip install pymatting)"
        ) from None
    return pymatting


def estimate_foreground(
    image: np.ndarray, alpha: np.ndarray, method: str = "cf"
) -> tuple[np.ndarray, np.ndarray]:
    """Estimate foreground and background colours.

    Args:
        image: ``uint8 (H, W, 3)`` RGB.
        alpha: ``uint8 (H, W)`` (0..255) or float in [0, 1].
        method: ``"cf"`` (closed form, Levin et al.; seconds per megapixel and
            more) or ``"ml"`` (multi-level; well under a second per megapixel).

    Returns:
        ``(F, B)``, both ``uint8 (H, W, 3)`` RGB, rounded to nearest. Where
        ``alpha == 0`` the foreground colour is an extrapolation (it has no
        effect on any composite), and likewise ``B`` where ``alpha == 1``.
    """
    if method not in FG_METHODS:
        raise ConfigError(f"unknown foreground method {method!r}; expected one of {', '.join(FG_METHODS)}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"image must be uint8 (H, W, 3), got {image.dtype} {image.shape}")
    if alpha.shape != image.shape[:2]:
        raise InputError(f"alpha {alpha.shape} does not match image {image.shape}")
    a = alpha.astype(np.float64) / 255.0 if alpha.dtype == np.uint8 else np.clip(alpha.astype(np.float64), 0, 1)
    img = image.astype(np.float64) / 255.0
    pm = _pymatting()
    if method == "cf":
        fg, bg = pm.estimate_foreground_cf(img, a, return_background=True)
    else:
        fg, bg = pm.estimate_foreground_ml(img, a, return_background=True)
    return _to_u8(fg), _to_u8(bg)


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.asarray(x) * 255.0), 0, 255).astype(np.uint8)
