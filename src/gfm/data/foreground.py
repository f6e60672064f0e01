"""Foreground (and background) colours from an image and its alpha matte.

RSSN's first step: ``F`` and ``B`` such that ``I = alpha F + (1 - alpha) B``,
estimated by the closed-form method of Levin et al. (2008) as implemented by
pymatting (``estimate_foreground_cf``), or by pymatting's multi-level method
(``estimate_foreground_ml``, Germer et al. 2020), which is tens of times faster
with nearly the same colours, or by ``fast`` (:mod:`gfm.data.band_solver`: the
multi-level energy solved on the transition band only, what ``gfm matte`` uses;
no pymatting). Not ``I x alpha``, which leaves the old background's colour in
every soft pixel.

pymatting is imported lazily: its very first import compiles it with numba
(up to a minute), then the compiled code is cached.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Literal

import numpy as np

from gfm.errors import ConfigError, InputError

FgMethod = Literal["cf", "ml", "fast"]
FG_METHODS: tuple[str, ...] = ("cf", "ml", "fast")


def load_pymatting(on_slow: Callable[[], None] | None = None, slow_after: float = 2.0) -> ModuleType:
    """Import pymatting.

    Args:
        on_slow: called (once, from a timer thread) if the import takes longer
            than ``slow_after`` seconds: the first import after installation
            compiles pymatting with numba. A command line uses it to say why it
            is waiting.
        slow_after: seconds.

    Raises:
        ConfigError: pymatting is not installed.
    """
    timer = None
    if on_slow is not None and "pymatting" not in sys.modules:
        timer = threading.Timer(slow_after, on_slow)
        timer.daemon = True
        timer.start()
    try:
        from gfm.compiled_cache import use_user_cache

        use_user_cache()  # pymatting's compiled code too: the user's cache folder, not site-packages
        import pymatting
    except ImportError:
        raise ConfigError("foreground estimation needs pymatting (pip install pymatting), or use --foreground none") from None
    finally:
        if timer is not None:
            timer.cancel()
    return pymatting


# image / 255 rounded to float32 once per value: exactly the float64 division that
# pymatting would round to float32 itself, without float64 copies of the image.
_UNIT_FLOAT32 = (np.arange(256) / 255.0).astype(np.float32)


def estimate_foreground(
    image: np.ndarray, alpha: np.ndarray, method: str = "cf"
) -> tuple[np.ndarray, np.ndarray]:
    """Estimate foreground and background colours.

    Args:
        image: ``uint8 (H, W, 3)`` RGB.
        alpha: ``uint8 (H, W)`` (0..255) or float in [0, 1].
        method: ``"cf"`` (closed form, Levin et al.; seconds per megapixel and
            more), ``"ml"`` (multi-level; well under a second per megapixel) or
            ``"fast"`` (the multi-level energy on the transition band only; a
            fraction of ``ml``'s time).

    Returns:
        ``(F, B)``, both ``uint8 (H, W, 3)`` RGB, rounded to nearest. Where
        ``alpha == 0`` the foreground colour is an extrapolation (it has no
        effect on any composite), and likewise ``B`` where ``alpha == 1``.
    """
    if method == "fast":
        from gfm.data.band_solver import estimate_foreground_background_band

        _check(image, alpha, method)
        return estimate_foreground_background_band(image, alpha)
    fg, bg = _solve(image, alpha, method)
    return _to_u8(fg), _to_u8(bg)


def estimate_foreground_colours(image: np.ndarray, alpha: np.ndarray, method: str = "ml") -> np.ndarray:
    """``F`` of :func:`estimate_foreground` alone (cutouts need no background)."""
    if method == "fast":
        return estimate_foreground(image, alpha, "fast")[0]
    return _to_u8(_solve(image, alpha, method)[0])


def _solve(image: np.ndarray, alpha: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Check the inputs and run pymatting: float ``(F, B)`` in [0, 1]."""
    _check(image, alpha, method)
    if image.shape[0] * image.shape[1] == 1:
        # pymatting's multi-level solver divides by zero on one pixel; a single
        # pixel is its own foreground (and background) colour.
        colours = _UNIT_FLOAT32[image]
        return colours, colours.copy()
    pm = load_pymatting()
    if method == "cf":
        a = alpha.astype(np.float64) / 255.0 if alpha.dtype == np.uint8 else np.clip(alpha.astype(np.float64), 0, 1)
        return pm.estimate_foreground_cf(image.astype(np.float64) / 255.0, a, return_background=True)
    # the multi-level solver works in float32: no float64 copies (0.4 GB less at 12 MP)
    a = _UNIT_FLOAT32[alpha] if alpha.dtype == np.uint8 else np.clip(alpha, 0, 1).astype(np.float32)
    return pm.estimate_foreground_ml(_UNIT_FLOAT32[image], a, return_background=True)


def _check(image: np.ndarray, alpha: np.ndarray, method: str) -> None:
    if method not in FG_METHODS:
        raise ConfigError(f"unknown foreground method {method!r}; expected one of {', '.join(FG_METHODS)}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"image must be uint8 (H, W, 3), got {image.dtype} {image.shape}")
    if alpha.shape != image.shape[:2]:
        raise InputError(f"alpha {alpha.shape} does not match image {image.shape}")


def _to_u8(x: np.ndarray) -> np.ndarray:
    """[0, 1] float colours -> uint8, rounded to nearest (in place for float32 arrays we own)."""
    x = np.asarray(x)
    if x.dtype != np.float32 or not x.flags.writeable:
        return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)
    x *= np.float32(255.0)
    np.rint(x, out=x)
    np.clip(x, 0, 255, out=x)
    return x.astype(np.uint8)
