"""Denoising of foregrounds and backgrounds (RSSN step 2).

* ``bm3d``: BM3D (Dabov et al. 2007), the paper's choice, through the ``bm3d``
  package (optional dependency, ``pip install gfm-matting[data]``). Slow: 19 s for
  an 810 x 540 RGB image on one core here (``benchmarks/bench_prepare.py``),
  so it is run once by ``gfm prepare denoise`` into a cache.
* ``nlm``: OpenCV's non-local means for colour images
  (``cv2.fastNlMeansDenoisingColored``), 0.5 s for the same image, about 35
  times faster. **A deviation from the paper**, offered for users who cannot
  afford BM3D on 20,000 backgrounds; composites made with it are not the
  paper's RSSN, and it removes less noise from fur-like texture.

Both are told the noise level of each image, estimated by
:func:`estimate_noise_sigma` (the paper does not give one; denoising a clean
image with a large sigma would only blur it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gfm.errors import ConfigError, InputError

DENOISERS: tuple[str, ...] = ("bm3d", "nlm")
MIN_SIGMA = 1.0  # 0..255 scale: below this there is nothing to remove


def estimate_noise_sigma(image: np.ndarray) -> float:
    """Standard deviation of additive Gaussian noise, on the 0..255 scale.

    Donoho's robust estimator: the median absolute value of the finest
    diagonal Haar wavelet coefficients divided by 0.6745, per channel,
    averaged (the method of ``skimage.restoration.estimate_sigma``).

    Args:
        image: ``uint8`` or float ``(H, W)`` or ``(H, W, C)`` on the 0..255 scale.
    """
    x = np.asarray(image, dtype=np.float64)
    if x.ndim == 2:
        x = x[..., None]
    h, w = (x.shape[0] // 2) * 2, (x.shape[1] // 2) * 2
    if h < 2 or w < 2:
        raise InputError(f"image too small to estimate noise: {image.shape}")
    x = x[:h, :w]
    # Orthonormal Haar HH coefficient of each 2x2 block.
    hh = (x[0::2, 0::2] - x[0::2, 1::2] - x[1::2, 0::2] + x[1::2, 1::2]) / 2.0
    sigmas = np.median(np.abs(hh), axis=(0, 1)) / 0.6745
    return float(np.mean(sigmas))


def denoise_bm3d(image: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """BM3D on an RGB image (as ``bm3d.bm3d_rgb``: opponent colour space), or on
    the gray channel of a grayscale image stored as RGB.

    Args:
        image: ``uint8 (H, W, 3)``.
        sigma: noise standard deviation on the 0..255 scale; estimated when ``None``.

    Returns:
        ``uint8 (H, W, 3)``.
    """
    _check_rgb(image)
    try:
        import bm3d
    except ImportError:
        raise ConfigError("BM3D needs the bm3d package: pip install 'gfm-matting[data]' (or pip install bm3d)") from None
    if sigma is None:
        sigma = estimate_noise_sigma(image)
    sigma = max(float(sigma), MIN_SIGMA)
    rgb = image.astype(np.float64) / 255.0
    if np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2]):
        # A grayscale photo stored as RGB: its noise is the same in the three channels,
        # so it is all luminance noise; BM3D of the gray channel is the right model.
        out = np.repeat(np.atleast_3d(np.asarray(bm3d.bm3d(rgb[..., 0], sigma / 255.0), dtype=np.float64)), 3, axis=2)
    else:
        out = _bm3d_opponent(bm3d, rgb, sigma / 255.0)
    if not np.all(np.isfinite(out)):  # never store NaN as black: a broken result is an error
        raise InputError("BM3D returned non-finite values for this image")
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)


# The opponent colour transform of ``bm3d.bm3d_rgb`` and its inverse.
_OPPONENT = np.array([[1 / 3, 1 / 3, 1 / 3], [0.5, 0.0, -0.5], [0.25, -0.5, 0.25]])
_OPPONENT_INVERSE = np.array([[1.0, 1.0, 2 / 3], [1.0, 0.0, -4 / 3], [1.0, -1.0, 2 / 3]])


def _bm3d_opponent(bm3d: Any, rgb: np.ndarray, sigma: float) -> np.ndarray:
    """``bm3d.bm3d_rgb(rgb, sigma)`` (opponent colour space, each channel scaled to
    [0, 1]) that also works when a channel is flat.

    ``bm3d_rgb`` divides each opponent channel by its range: a grayscale photo
    stored as RGB (both colour channels zero) or a flat colour gives 0 / 0, and
    the whole result became NaN, then black. A flat channel has nothing to denoise;
    here it keeps range 1 (stays flat) and the other channels are processed as
    ``bm3d_rgb`` does (one by one when the luminance, where blocks are matched, is flat).

    Args:
        rgb: ``float64 (H, W, 3)`` in [0, 1].
        sigma: noise standard deviation on the same scale.

    Returns:
        ``float64 (H, W, 3)``, about [0, 1].
    """
    h, w, _ = rgb.shape
    o = rgb.reshape(-1, 3) @ _OPPONENT.T
    o_min, o_max = o.min(axis=0), o.max(axis=0)
    spread = np.where(o_max - o_min > 1e-12, o_max - o_min, 1.0)
    normalised = ((o - o_min) / spread).reshape(h, w, 3)
    channel_sigma = sigma * np.sqrt(np.sum(_OPPONENT**2, axis=1)) / spread
    if o_max[0] - o_min[0] > 1e-12:  # block matching runs on the luminance channel
        denoised = np.asarray(bm3d.bm3d(normalised, channel_sigma), dtype=np.float64)
    else:  # flat luminance: bm3d would stop without its block matches; channels one by one
        denoised = np.stack([np.asarray(bm3d.bm3d(normalised[..., c], channel_sigma[c]), dtype=np.float64).reshape(h, w)
                             for c in range(3)], axis=2)
    return ((denoised.reshape(-1, 3) * spread + o_min) @ _OPPONENT_INVERSE.T).reshape(h, w, 3)


def denoise_nlm(image: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """OpenCV non-local means (a fast stand-in for BM3D; see the module doc).

    The filter strength ``h`` (luminance and colour) is the noise sigma, the
    usual rule for this filter; template 7 px, search window 21 px.
    """
    _check_rgb(image)
    import cv2

    if sigma is None:
        sigma = estimate_noise_sigma(image)
    h = max(float(sigma), MIN_SIGMA)
    # OpenCV's colour NLM works in BGR-ordered Lab; channel order does matter.
    bgr = np.ascontiguousarray(image[..., ::-1])
    out = cv2.fastNlMeansDenoisingColored(bgr, None, h, h, 7, 21)
    return np.ascontiguousarray(out[..., ::-1])


def denoise(image: np.ndarray, method: str = "bm3d", sigma: float | None = None) -> np.ndarray:
    """Denoise with ``method`` in :data:`DENOISERS`."""
    if method == "bm3d":
        return denoise_bm3d(image, sigma)
    if method == "nlm":
        return denoise_nlm(image, sigma)
    raise ConfigError(f"unknown denoiser {method!r}; expected one of {', '.join(DENOISERS)}")


def _check_rgb(image: np.ndarray) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"image must be uint8 (H, W, 3), got {image.dtype} {image.shape}")
