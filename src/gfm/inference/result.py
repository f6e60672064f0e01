"""What a prediction returns, and the numpy steps around the network that every runtime shares.

Torch-free on purpose: the onnxruntime predictor (:mod:`gfm.inference.onnx_runtime`)
uses these without importing PyTorch. :class:`~gfm.inference.Predictor` re-exports them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
from PIL.Image import Image as PILImage

from gfm.errors import InputError
from gfm.inference.sizing import WorkingSize, from_network_output
from gfm.io.hints import Hint, check_hint_size

#: What :meth:`Predictor.predict` takes: a path, a PIL image or a uint8 array.
ImageInput = Union[str, "os.PathLike[str]", PILImage, np.ndarray]


@dataclass
class MattingResult:
    """The prediction for one image.

    Attributes:
        alpha: ``(H, W)`` float32 in [0, 1], the input's size.
        trimap: ``(H, W)`` uint8 glance map at full resolution (TT: 0 background,
            128 transition, 255 foreground, exactly the areas the fusion used;
            FT / BT: 255 where the glance class is 1), or ``None`` if not requested.
        image: ``(H, W, 3)`` uint8 RGB, the input (for :meth:`foreground` and :meth:`cutout`).
    """

    alpha: np.ndarray
    trimap: np.ndarray | None = None
    image: np.ndarray | None = None

    def foreground(self, method: str = "fast") -> np.ndarray:
        """The foreground colours ``F`` of ``I = alpha F + (1 - alpha) B``.

        Args:
            method: ``"fast"`` (default), ``"ml"`` (pymatting multi-level),
                ``"cf"`` (closed form, slow), ``"blur"`` (Blur-Fusion) or
                ``"none"`` (the image itself); see
                :func:`gfm.inference.estimate_foreground`.

        Returns:
            ``(H, W, 3)`` uint8 RGB.
        """
        from gfm.inference.foreground import estimate_foreground

        return estimate_foreground(self._image(), self.alpha, method)

    def cutout(self, foreground: str = "fast") -> np.ndarray:
        """The cutout: ``(H, W, 4)`` uint8 RGBA, the foreground colours (see
        :meth:`foreground`) with the alpha matte as transparency."""
        from gfm.inference.foreground import cutout

        return cutout(self.foreground(foreground), self.alpha)

    def _image(self) -> np.ndarray:
        if self.image is None:
            raise InputError("this MattingResult holds no image; give it one (MattingResult(alpha, image=rgb)) "
                             "or use gfm.inference.estimate_foreground(image, result.alpha)")
        return self.image


def tt_trimap_full_resolution(classes: np.ndarray, glance_size: WorkingSize, height: int, width: int) -> np.ndarray:
    """The TT glance classes as an 8-bit map (0/128/255) up-sampled bilinearly to ``(height, width)``."""
    trimap_low = (classes * 127.5).round().astype(np.uint8)  # 0, 128, 255
    return from_network_output(trimap_low, glance_size, height, width)


def tt_glance_map(trimap: np.ndarray, hints: np.ndarray | None = None) -> np.ndarray:
    """The TT map the fusion uses: 0 / 255 where the up-sampled glance map is exactly
    background / foreground, 128 elsewhere (class borders count as transition, as in the
    released test code), then ``hints`` (:class:`~gfm.io.hints.Hint` codes) applied.

    Returns:
        ``(H, W)`` uint8 of 0, 128, 255 (a new array).
    """
    glance_map = np.where((trimap == 0) | (trimap == 255), trimap, 128).astype(np.uint8)
    if hints is not None:
        glance_map[hints == Hint.BACKGROUND] = 0
        glance_map[hints == Hint.TRANSITION] = 128
        glance_map[hints == Hint.FOREGROUND] = 255
    return glance_map


def fuse_two_class(head: str, up: np.ndarray, focus: np.ndarray, hints: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """FT / BT fusion from the up-sampled 8-bit class map ``up`` (class 1 where >= 128).

    FT: ``min(glance + focus, 1)``; BT: ``max(glance - focus, 0)``. A transition hint
    makes the glance class the one whose fusion reads the focus alone (FT 0, BT 1).

    Returns:
        ``(alpha float32, glance map uint8)``: the map is 0 / 255 by class, 128 where
        hinted transition, 0 / 255 where hinted background / foreground.
    """
    solid = (up >= 128).astype(np.float32)
    glance_map = (solid * 255).astype(np.uint8)
    if hints is not None:
        solid[hints == Hint.TRANSITION] = 0.0 if head == "FT" else 1.0
        glance_map[hints == Hint.TRANSITION] = 128
    if head == "FT":
        alpha = np.minimum(solid + focus, 1.0)
    else:  # BT
        alpha = np.maximum(solid - focus, 0.0)
    alpha = alpha.astype(np.float32)
    if hints is not None:
        force_solid(alpha, hints)
        glance_map[hints == Hint.BACKGROUND] = 0
        glance_map[hints == Hint.FOREGROUND] = 255
    return alpha, glance_map


def force_solid(alpha: np.ndarray, hints: np.ndarray) -> None:
    """Alpha 0 where the hints say background, 1 where foreground (in place)."""
    alpha[hints == Hint.BACKGROUND] = 0.0
    alpha[hints == Hint.FOREGROUND] = 1.0


def fuse_full_resolution(
    head: str,
    classes: np.ndarray,
    glance_size: WorkingSize,
    focus: np.ndarray,
    trimap: np.ndarray | None = None,
    hints: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Fuse a low-resolution glance class map with a full-resolution focus alpha.

    The class map is up-sampled bilinearly as an 8-bit map (TT: 0/128/255);
    pixels where it is not exactly background or foreground (class borders)
    count as transition and take the focus alpha, as in the released test code.

    ``trimap``: the TT map already up-sampled by :func:`tt_trimap_full_resolution`
    (or already :func:`tt_glance_map`, hints applied).
    ``hints``: ``(H, W)`` :class:`~gfm.io.hints.Hint` codes that override the glance
    classes (a user's corrections, a guide's); None: the network's own fusion.
    ``focus`` (float32) becomes the TT alpha in place: pass a fresh array.

    Returns:
        ``(alpha, glance map)``, both ``(H, W)``.
    """
    height, width = focus.shape
    if head == "TT":
        if trimap is None:
            trimap = tt_trimap_full_resolution(classes, glance_size, height, width)
        glance_map = tt_glance_map(trimap, hints)
        alpha = focus.astype(np.float32, copy=False)  # a fresh full-size array: modified in place
        alpha[glance_map == 255] = 1.0
        alpha[glance_map == 0] = 0.0
        return alpha, glance_map
    up = from_network_output((classes * 255).astype(np.uint8), glance_size, height, width)
    return fuse_two_class(head, up, focus, hints)


def checked_hints(hints: np.ndarray, size: tuple[int, int]) -> np.ndarray | None:
    """``hints`` as uint8 :class:`~gfm.io.hints.Hint` codes of the image's ``size``;
    None when they say nothing (all unknown: the plain prediction, bit for bit).

    Raises:
        InputError: another size, or codes outside :class:`~gfm.io.hints.Hint`.
    """
    hints = np.asarray(hints)
    check_hint_size(hints, size)
    if hints.dtype != np.uint8 or hints.max(initial=0) > max(Hint):
        raise InputError(f"a hint map holds uint8 codes 0..{max(Hint)} ({', '.join(h.name.lower() for h in Hint)}), "
                         f"got {hints.dtype} up to {hints.max(initial=0)}")
    return hints if hints.any() else None


def as_rgb(image: ImageInput) -> np.ndarray:
    """Any image input of :meth:`Predictor.predict` as ``(H, W, 3)`` uint8 RGB."""
    if isinstance(image, (str, os.PathLike)):
        from gfm.io import read_image

        return read_image(Path(image))
    if isinstance(image, PILImage):
        from gfm.io import image_to_rgb

        return image_to_rgb(image)
    image = np.asarray(image)
    if image.dtype == np.uint8 and image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    if image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 4:
        return np.ascontiguousarray(image[..., :3])
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"expected an (H, W, 3) uint8 RGB image (or (H, W) gray, (H, W, 4) RGBA), got {image.dtype} {image.shape}")
    return image



__all__ = [
    "ImageInput",
    "MattingResult",
    "as_rgb",
    "checked_hints",
    "force_solid",
    "fuse_full_resolution",
    "fuse_two_class",
    "tt_glance_map",
    "tt_trimap_full_resolution",
]
