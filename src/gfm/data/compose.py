"""RSSN, the composition route of the paper (Sect. 4.4; SPEC section 4), as
pure functions.

For a foreground (colours ``F`` from Levin et al.'s closed form, its alpha)
and a background ``B`` drawn from a background set:

1. ``F`` and ``B`` are replaced by their denoised versions (BM3D, precomputed
   by ``gfm prepare denoise``), each with probability 0.5;
2. with probability 0.5, ``B`` is blurred with an OpenCV box filter of kernel
   20, 30, 40, 50 or 60 px (large-aperture effect);
3. ``I = alpha F + (1 - alpha) B`` in float;
4. with probability 0.5, Gaussian noise of standard deviation 10 (0..255
   scale) is added, and the result clipped to [0, 255] and rounded.

The background is first scaled, with its aspect ratio kept, to the smallest
size that covers the foreground, then cropped at a random place
(:func:`fit_background`): never stretched. The COMP-COCO and COMP-BG20K
baselines are the same route with every probability 0 (plain blending).

Every random choice is drawn by :func:`sample_choices` from an explicit
``numpy.random.Generator`` into a :class:`CompositionChoices` record, and
:func:`compose` is a deterministic function of its inputs and that record.

Differences from the released code (SPEC section 8): noise is clipped rather
than wrapped around ``uint8``; blending is rounded rather than truncated; the
background keeps its aspect ratio; denoising of ``F`` and ``B`` is decided
independently, as the paper says.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import cv2
import numpy as np

from gfm.errors import ConfigError, InputError

BLUR_KERNELS: tuple[int, ...] = (20, 30, 40, 50, 60)
NOISE_SIGMA = 10.0
ROUTES: tuple[str, ...] = ("rssn", "bg20k", "coco")


@dataclass(frozen=True)
class RouteConfig:
    """Probabilities of the RSSN steps.

    Use :func:`route_config` for the paper's presets: ``rssn`` (all 0.5) and
    the plain-blending baselines ``bg20k`` and ``coco`` (all 0; the two differ
    only in the background set they are given).
    """

    name: str = "rssn"
    p_denoise_fg: float = 0.5
    p_denoise_bg: float = 0.5
    p_blur: float = 0.5
    blur_kernels: tuple[int, ...] = BLUR_KERNELS
    p_noise: float = 0.5
    noise_sigma: float = NOISE_SIGMA

    def __post_init__(self) -> None:
        for key in ("p_denoise_fg", "p_denoise_bg", "p_blur", "p_noise"):
            p = getattr(self, key)
            if not 0.0 <= p <= 1.0:
                raise ConfigError(f"{key} must be in [0, 1], got {p}")
        if not self.blur_kernels or any(k < 1 for k in self.blur_kernels):
            raise ConfigError(f"blur kernels must be positive, got {self.blur_kernels}")
        if self.noise_sigma < 0:
            raise ConfigError(f"noise_sigma must be >= 0, got {self.noise_sigma}")

    @property
    def uses_denoised(self) -> bool:
        return self.p_denoise_fg > 0 or self.p_denoise_bg > 0


def route_config(route: str) -> RouteConfig:
    """The paper's settings for ``rssn``, ``bg20k`` (COMP-BG20K) or ``coco`` (COMP-COCO)."""
    if route == "rssn":
        return RouteConfig("rssn")
    if route in ("bg20k", "coco"):
        return RouteConfig(route, 0.0, 0.0, 0.0, BLUR_KERNELS, 0.0, NOISE_SIGMA)
    raise ConfigError(f"unknown composition route {route!r}; expected one of {', '.join(ROUTES)}")


@dataclass(frozen=True)
class BackgroundFit:
    """How a background was fitted to a foreground of ``height x width``:
    scaled by ``scale`` (same factor on both axes) to ``resized_hw``, then
    cropped at ``(top, left)``."""

    scale: float
    resized_hw: tuple[int, int]
    top: int
    left: int
    height: int
    width: int


@dataclass(frozen=True)
class CompositionChoices:
    """Every random choice of one composite (recorded in manifests)."""

    background: int  # index into the background list
    fit: BackgroundFit
    denoise_fg: bool
    denoise_bg: bool
    blur_kernel: int | None  # None: no blur
    noise: bool
    noise_seed: int  # seeds the noise field (see add_gaussian_noise)
    route: str = "rssn"
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["fit"]["resized_hw"] = list(self.fit.resized_hw)
        return out


@dataclass(frozen=True)
class Composite:
    """A composed sample, all ``uint8``: ``image``, ``fg``, ``bg`` ``(H, W, 3)``
    and ``alpha`` ``(H, W)``. ``fg`` and ``bg`` are what was blended (denoised,
    blurred and noised as the image), so ``image == round(alpha fg + (1 -
    alpha) bg)`` up to clipping."""

    image: np.ndarray
    alpha: np.ndarray
    fg: np.ndarray
    bg: np.ndarray


# ------------------------------------------------------------ the steps


def fit_scale(bg_hw: tuple[int, int], fg_hw: tuple[int, int]) -> tuple[float, tuple[int, int]]:
    """Smallest uniform scale of a background that covers the foreground.

    Returns:
        ``(scale, (H', W'))`` with ``H' >= fg height``, ``W' >= fg width`` and
        ``H' / W'`` equal to the background's ratio up to one pixel of rounding.
    """
    bh, bw = bg_hw
    fh, fw = fg_hw
    if min(bh, bw, fh, fw) < 1:
        raise InputError(f"empty image: background {bg_hw}, foreground {fg_hw}")
    scale = max(fh / bh, fw / bw)
    # One side matches exactly; the other is rounded up so that it still covers.
    rh = fh if fh / bh >= fw / bw else max(fh, math.ceil(bh * scale - 1e-6))
    rw = fw if fw / bw >= fh / bh else max(fw, math.ceil(bw * scale - 1e-6))
    return scale, (rh, rw)


def sample_fit(bg_hw: tuple[int, int], fg_hw: tuple[int, int], rng: np.random.Generator) -> BackgroundFit:
    """Scale to cover (:func:`fit_scale`) and a uniform random crop position."""
    scale, (rh, rw) = fit_scale(bg_hw, fg_hw)
    top = int(rng.integers(rh - fg_hw[0] + 1))
    left = int(rng.integers(rw - fg_hw[1] + 1))
    return BackgroundFit(scale, (rh, rw), top, left, fg_hw[0], fg_hw[1])


def apply_fit(background: np.ndarray, fit: BackgroundFit) -> np.ndarray:
    """Resize ``background`` as ``fit`` says (area when shrinking, bicubic when
    enlarging) and crop it. Returns ``(fit.height, fit.width, 3)`` ``uint8``."""
    rh, rw = fit.resized_hw
    if background.shape[:2] != (rh, rw):
        interp = cv2.INTER_AREA if fit.scale < 1 else cv2.INTER_CUBIC
        background = cv2.resize(background, (rw, rh), interpolation=interp)
    out = background[fit.top : fit.top + fit.height, fit.left : fit.left + fit.width]
    if out.shape[:2] != (fit.height, fit.width):
        raise InputError(f"background fit {fit} does not match a {background.shape} background")
    return np.ascontiguousarray(out)


def blur_background(background: np.ndarray, kernel: int) -> np.ndarray:
    """Box blur (``cv2.blur``, the averaging filter) with a ``kernel x kernel`` window."""
    if kernel < 1:
        raise ConfigError(f"blur kernel must be positive, got {kernel}")
    return cv2.blur(background, (kernel, kernel))


def to_float_alpha(alpha: np.ndarray) -> np.ndarray:
    """``uint8`` 0..255 or float [0, 1] matte -> ``float32 (H, W)`` in [0, 1]."""
    alpha = np.asarray(alpha)
    if alpha.dtype == np.uint8:
        return alpha.astype(np.float32) * np.float32(1.0 / 255.0)
    if alpha.dtype.kind != "f":
        raise InputError(f"alpha must be uint8 or float, got {alpha.dtype}")
    return np.clip(alpha.astype(np.float32, copy=False), 0.0, 1.0)


def blend_float(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``alpha F + (1 - alpha) B`` (Eq. 1) in ``float32``, no rounding.

    Args:
        fg, bg: ``(H, W, 3)`` ``uint8`` or float on the 0..255 scale.
        alpha: ``(H, W)`` ``uint8`` or float in [0, 1].

    Returns:
        ``float32 (H, W, 3)`` on the 0..255 scale.
    """
    if fg.shape != bg.shape or fg.ndim != 3 or fg.shape[:2] != alpha.shape[:2]:
        raise InputError(f"cannot blend: fg {fg.shape}, bg {bg.shape}, alpha {alpha.shape}")
    a = to_float_alpha(alpha)
    a3 = cv2.merge([a] * fg.shape[2])
    f = fg.astype(np.float32, copy=False)
    b = bg.astype(np.float32, copy=False)
    # B + alpha (F - B): three vectorised OpenCV passes, faster than numpy here.
    return cv2.add(cv2.multiply(cv2.subtract(f, b), a3), b)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Round to nearest (ties to even) and clip to [0, 255]."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.float32 and image.ndim in (2, 3) and (image.ndim == 2 or image.shape[2] <= 4):
        # OpenCV's saturating conversion rounds ties to even like np.rint, in one pass.
        return cv2.add(image, 0.0, dtype=cv2.CV_8U)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def alpha_blend(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Eq. 1 rounded to ``uint8``: ``round(alpha F + (1 - alpha) B)``."""
    return to_uint8(blend_float(fg, bg, alpha))


def gaussian_noise(shape: tuple[int, ...], sigma: float, seed: int) -> np.ndarray:
    """A ``float32`` field of N(0, sigma^2) noise, deterministic for ``seed``.

    OpenCV's generator (seeded here, on the calling thread) is three times
    faster than numpy's for a 1620 x 1080 x 3 field, which matters inside a
    60 ms sample budget; ``seed`` itself comes from the caller's numpy
    Generator.
    """
    out = np.empty(shape, np.float32)
    # A one-channel 2-D view: on a 3-channel Mat a scalar sigma would only reach channel 0.
    flat = out.reshape(shape[0], -1) if len(shape) > 1 else out.reshape(1, -1)
    cv2.setRNGSeed(int(seed) & 0x7FFFFFFF)
    cv2.randn(flat, 0.0, float(sigma))
    return out


def add_gaussian_noise(image: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Add N(0, sigma^2) noise to a 0..255 image, then round and clip to ``uint8``.

    Clipping (not wrapping around as ``np.uint8(x)`` does) keeps a dark pixel
    dark when the noise is negative.
    """
    noisy = image.astype(np.float32) + gaussian_noise(image.shape, sigma, seed)
    return to_uint8(noisy)


# ------------------------------------------------------------ one composite


def sample_choices(
    rng: np.random.Generator,
    config: RouteConfig,
    background: int,
    bg_hw: tuple[int, int],
    fg_hw: tuple[int, int],
) -> CompositionChoices:
    """Draw every random choice of one composite, in a fixed order."""
    fit = sample_fit(bg_hw, fg_hw, rng)
    denoise_fg = bool(rng.random() < config.p_denoise_fg)
    denoise_bg = bool(rng.random() < config.p_denoise_bg)
    blur = bool(rng.random() < config.p_blur)
    kernel = int(config.blur_kernels[int(rng.integers(len(config.blur_kernels)))]) if blur else None
    noise = bool(rng.random() < config.p_noise)
    noise_seed = int(rng.integers(2**31 - 1))
    return CompositionChoices(background, fit, denoise_fg, denoise_bg, kernel, noise, noise_seed, config.name)


def compose(
    fg: np.ndarray,
    alpha: np.ndarray,
    background: np.ndarray,
    choices: CompositionChoices,
    *,
    fg_denoised: np.ndarray | None = None,
    bg_denoised: np.ndarray | None = None,
    noise_sigma: float = NOISE_SIGMA,
) -> Composite:
    """Compose one sample as ``choices`` say.

    Args:
        fg: foreground colours ``uint8 (H, W, 3)`` (closed-form estimate).
        alpha: ``uint8 (H, W)`` matte.
        background: ``uint8 (h, w, 3)`` background at its own size; fitted
            with ``choices.fit`` (which was sampled for this ``(h, w)``).
        choices: from :func:`sample_choices`.
        fg_denoised, bg_denoised: denoised versions (same shapes as ``fg`` and
            ``background``), needed only when the choices use them.
        noise_sigma: standard deviation of the noise on the 0..255 scale.

    Returns:
        :class:`Composite`. When noise is added, the same noise field is added
        to ``fg`` and ``bg`` too, so the composite equation still holds for the
        returned triple (the composition loss needs it).
    """
    if fg.dtype != np.uint8 or fg.ndim != 3 or fg.shape[2] != 3:
        raise InputError(f"foreground must be uint8 (H, W, 3), got {fg.dtype} {fg.shape}")
    if alpha.shape != fg.shape[:2]:
        raise InputError(f"alpha {alpha.shape} does not match foreground {fg.shape}")
    if choices.fit.height != fg.shape[0] or choices.fit.width != fg.shape[1]:
        raise InputError(f"choices were drawn for a {choices.fit.height}x{choices.fit.width} foreground, got {fg.shape}")
    if choices.denoise_fg:
        if fg_denoised is None:
            raise InputError("choices ask for the denoised foreground but none was given")
        if fg_denoised.shape != fg.shape:
            raise InputError(f"denoised foreground {fg_denoised.shape} differs from foreground {fg.shape}")
        fg = fg_denoised
    if choices.denoise_bg:
        if bg_denoised is None:
            raise InputError("choices ask for the denoised background but none was given")
        if bg_denoised.shape != background.shape:
            raise InputError(f"denoised background {bg_denoised.shape} differs from background {background.shape}")
        background = bg_denoised
    bg = apply_fit(background, choices.fit)
    if choices.blur_kernel is not None:
        bg = blur_background(bg, choices.blur_kernel)
    if not choices.noise:
        return Composite(alpha_blend(fg, bg, alpha), alpha, fg, bg)
    noise = gaussian_noise(fg.shape, noise_sigma, choices.noise_seed)
    fg_n = cv2.add(fg.astype(np.float32), noise)
    bg_n = cv2.add(bg.astype(np.float32), noise)
    image = to_uint8(blend_float(fg_n, bg_n, alpha))
    return Composite(image, alpha, to_uint8(fg_n), to_uint8(bg_n))


def sample_backgrounds(n_backgrounds: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` distinct background indices drawn uniformly from ``range(n_backgrounds)``.

    Raises:
        InputError: fewer than ``k`` backgrounds (an empty set included).
    """
    if n_backgrounds < 1:
        raise InputError("the background set is empty; give a folder with background images")
    if k < 1:
        raise ConfigError(f"k (backgrounds per foreground) must be positive, got {k}")
    if n_backgrounds < k:
        raise InputError(
            f"only {n_backgrounds} background(s) for k={k} distinct backgrounds per foreground; add backgrounds or "
            "lower k (gfm compose --k N, gfm train --set data.backgrounds_per_foreground=N)"
        )
    return rng.choice(n_backgrounds, size=k, replace=False)
