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


def fuse_full_resolution(
    head: str, classes: np.ndarray, glance_size: WorkingSize, focus: np.ndarray, trimap: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Fuse a low-resolution glance class map with a full-resolution focus alpha.

    The class map is up-sampled bilinearly as an 8-bit map (TT: 0/128/255);
    pixels where it is not exactly background or foreground (class borders)
    count as transition and take the focus alpha, as in the released test code.

    ``trimap``: the TT map already up-sampled by :func:`tt_trimap_full_resolution`.
    ``focus`` (float32) becomes the TT alpha in place: pass a fresh array.

    Returns:
        ``(alpha, glance map)``, both ``(H, W)``.
    """
    height, width = focus.shape
    if head == "TT":
        if trimap is None:
            trimap = tt_trimap_full_resolution(classes, glance_size, height, width)
        alpha = focus.astype(np.float32, copy=False)  # a fresh full-size array: modified in place
        alpha[trimap == 255] = 1.0
        alpha[trimap == 0] = 0.0
        glance_map = np.where((trimap == 0) | (trimap == 255), trimap, 128).astype(np.uint8)
        return alpha, glance_map
    up = from_network_output((classes * 255).astype(np.uint8), glance_size, height, width)
    solid = (up >= 128).astype(np.float32)
    if head == "FT":
        alpha = np.minimum(solid + focus, 1.0)
    else:  # BT
        alpha = np.maximum(solid - focus, 0.0)
    return alpha.astype(np.float32), (solid * 255).astype(np.uint8)


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



__all__ = ["ImageInput", "MattingResult", "as_rgb", "fuse_full_resolution", "tt_trimap_full_resolution"]
