"""Training augmentation (paper Sect. 5.3): random crop, resize, flip.

A square crop of 640, 960 or 1280 px (shrunk to the shorter side for smaller
images) is centred on a transition pixel with probability 0.5 and placed
uniformly otherwise; it is resized to 320 x 320 and flipped horizontally with
probability 0.5. The same :class:`CropParams` is applied to every array of a
sample (image, alpha, foreground, background, label maps), so they stay
aligned.

Differences from the released code (SPEC section 8): the crop centre is the
chosen transition pixel (the released sampler used it as the top-left corner,
so crops sat to the bottom right of the transition), images smaller than the
crop shrink the crop instead of crashing, and label maps are resized by nearest
neighbour only.

Transition pixels, for centring, are those with ``0 < alpha < 1`` plus those
on the boundary between 0 and 1 (a 3 x 3 morphological gradient), which a
hard-edged matte needs. This is the core of the 25 px trimap band, cheap to
find on a full-resolution matte.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from gfm.errors import ConfigError, InputError

CROP_SIZES: tuple[int, ...] = (640, 960, 1280)
OUT_SIZE = 320


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation settings.

    Attributes:
        crop_sizes: candidate square crop sides in pixels, drawn uniformly.
        out_size: side of the resized square output.
        p_centre: probability of centring the crop on a transition pixel.
        p_flip: probability of a horizontal flip.
        min_side: images whose shorter side is below this are refused
            (default ``out_size``: no sample is upscaled from a tiny image).
    """

    crop_sizes: tuple[int, ...] = CROP_SIZES
    out_size: int = OUT_SIZE
    p_centre: float = 0.5
    p_flip: float = 0.5
    min_side: int | None = None

    def __post_init__(self) -> None:
        if not self.crop_sizes or any(int(c) < 1 for c in self.crop_sizes):
            raise ConfigError(f"crop_sizes must be positive integers, got {self.crop_sizes}")
        if self.out_size < 1:
            raise ConfigError(f"out_size must be positive, got {self.out_size}")
        for name in ("p_centre", "p_flip"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {p}")

    @property
    def smallest_side(self) -> int:
        return self.out_size if self.min_side is None else self.min_side


@dataclass(frozen=True)
class CropParams:
    """One sampled crop: square window ``[top, top+size) x [left, left+size)``."""

    top: int
    left: int
    size: int
    flip: bool
    centred: bool

    def as_dict(self) -> dict[str, int | bool]:
        return {"top": self.top, "left": self.left, "size": self.size, "flip": self.flip, "centred": self.centred}


def transition_pixels(alpha: np.ndarray) -> np.ndarray:
    """Flat indices of transition pixels of a ``uint8 (H, W)`` matte (see module doc)."""
    if alpha.dtype != np.uint8 or alpha.ndim != 2:
        raise InputError(f"alpha must be uint8 (H, W), got {alpha.dtype} {alpha.shape}")
    soft = (alpha > 0) & (alpha < 255)
    binary = (alpha > 127).astype(np.uint8)
    edge = cv2.morphologyEx(binary, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    return np.flatnonzero(soft | edge)


def sample_crop(
    shape: tuple[int, int],
    transition: np.ndarray | None,
    rng: np.random.Generator,
    config: AugmentConfig = AugmentConfig(),
) -> CropParams:
    """Draw a crop window.

    Args:
        shape: ``(H, W)`` of the sample.
        transition: flat indices of transition pixels (:func:`transition_pixels`),
            or ``None`` / empty to always place the crop uniformly.
        rng: the source of every random choice.
        config: crop sizes and probabilities.

    Returns:
        :class:`CropParams`; ``size`` is ``min(choice, H, W)``; when centred, the
        chosen pixel is at ``(top + size // 2, left + size // 2)`` unless the
        window had to be shifted to stay inside the image.
    """
    h, w = int(shape[0]), int(shape[1])
    if min(h, w) < config.smallest_side:
        raise InputError(
            f"sample of {w}x{h} px is smaller than the {config.smallest_side} px minimum side "
            f"(out_size {config.out_size}); remove it or lower out_size/min_side"
        )
    size = min(int(config.crop_sizes[int(rng.integers(len(config.crop_sizes)))]), h, w)
    centre = rng.random() < config.p_centre
    if centre and transition is not None and len(transition) > 0:
        y, x = divmod(int(transition[int(rng.integers(len(transition)))]), w)
        top = min(max(y - size // 2, 0), h - size)
        left = min(max(x - size // 2, 0), w - size)
        centred = True
    else:
        top = int(rng.integers(h - size + 1))
        left = int(rng.integers(w - size + 1))
        centred = False
    flip = bool(rng.random() < config.p_flip)
    return CropParams(top, left, size, flip, centred)


def apply_crop(array: np.ndarray, params: CropParams, out_size: int, *, label: bool = False) -> np.ndarray:
    """Crop, resize to ``out_size`` square and flip one array.

    Args:
        array: ``(H, W)`` or ``(H, W, C)``, any dtype OpenCV resizes.
        label: a class map or mask: nearest neighbour; otherwise area
            averaging when shrinking and bilinear when enlarging.

    Returns:
        ``(out_size, out_size[, C])`` array of the input dtype (bool kept).
    """
    window = array[params.top : params.top + params.size, params.left : params.left + params.size]
    if window.shape[0] != params.size or window.shape[1] != params.size:
        raise InputError(f"crop {params} does not fit an array of shape {array.shape}")
    return resize_and_flip(window, params.flip, out_size, label=label)


def resize_and_flip(window: np.ndarray, flip: bool, out_size: int, *, label: bool = False) -> np.ndarray:
    """Resize a cropped square window to ``out_size`` and flip it if asked."""
    is_bool = window.dtype == bool
    src = window.view(np.uint8) if is_bool else window
    if src.shape[0] == out_size and src.shape[1] == out_size:
        out = src
    else:
        if label:
            interp = cv2.INTER_NEAREST
        else:
            interp = cv2.INTER_AREA if src.shape[0] > out_size else cv2.INTER_LINEAR
        out = cv2.resize(np.ascontiguousarray(src), (out_size, out_size), interpolation=interp)
        if src.ndim == 3 and out.ndim == 2:  # OpenCV drops a single channel
            out = out[..., None]
    if flip:
        out = out[:, ::-1]
    out = np.ascontiguousarray(out)
    return out.astype(bool) if is_bool else out


def augment(
    arrays: Mapping[str, np.ndarray],
    params: CropParams,
    out_size: int,
    labels: Sequence[str] = (),
) -> dict[str, np.ndarray]:
    """Apply one crop to several aligned arrays; keys in ``labels`` use nearest neighbour."""
    shapes = {k: a.shape[:2] for k, a in arrays.items()}
    if len(set(shapes.values())) > 1:
        raise InputError(f"arrays to augment differ in size: {shapes}")
    return {k: apply_crop(a, params, out_size, label=k in labels) for k, a in arrays.items()}
