"""``gfm.remove``: an image in, its RGBA cutout out, in one call.

    import gfm
    cutout = gfm.remove("photo.jpg")      # PIL RGBA image (the default model, gfm-lite)
    cutout.save("cutout.png")

The counterpart of rembg's ``remove(image)``. Each (model, strategy, device)
is loaded once and kept for later calls (:func:`clear_loaded_models` frees them).
In a process that has not imported PyTorch, the default weights run through
onnxruntime when ``gfm matte`` has cached their checked export
(:mod:`gfm.inference.fast_start`): the first cutout comes without PyTorch's start-up.
"""

from __future__ import annotations

import io
import os
import sys
from functools import lru_cache
from typing import TYPE_CHECKING, overload

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from gfm.inference.onnx_runtime import OnnxPredictor
    from gfm.inference.predictor import ImageInput, Predictor


@lru_cache(maxsize=2)
def _predictor(model: str, strategy: str | None, device: str, guide: str) -> Predictor:
    from gfm.inference.predictor import Predictor

    return Predictor.from_name(model, strategy, device=device, guide=guide)


@lru_cache(maxsize=2)
def _quick_predictor(strategy: str | None, guide: str) -> OnnxPredictor | None:
    """The default weights through onnxruntime when ``gfm matte`` has cached their checked
    export (:mod:`gfm.inference.fast_start`) and PyTorch is not loaded yet: no torch import."""
    from gfm.inference import fast_start

    record = fast_start.find()
    if record is None:
        return None
    fast_start.load_foreground_in_background("fast")  # meanwhile (only "fast" is loaded so)
    from gfm.inference.guide import load_guide
    from gfm.inference.onnx_runtime import OnnxPredictor

    return OnnxPredictor(record.onnx, strategy, guide=load_guide(guide, progress=False))


def clear_loaded_models() -> None:
    """Forget the predictors :func:`remove` keeps loaded (frees their memory)."""
    _predictor.cache_clear()
    _quick_predictor.cache_clear()


@overload
def remove(image: np.ndarray, model: str | os.PathLike[str] | None = ..., *, foreground: str = ..., strategy: str | None = ..., device: str = ..., guide: str | os.PathLike[str] = ...) -> np.ndarray: ...
@overload
def remove(image: bytes, model: str | os.PathLike[str] | None = ..., *, foreground: str = ..., strategy: str | None = ..., device: str = ..., guide: str | os.PathLike[str] = ...) -> bytes: ...
@overload
def remove(image: str | os.PathLike[str] | Image.Image, model: str | os.PathLike[str] | None = ..., *, foreground: str = ..., strategy: str | None = ..., device: str = ..., guide: str | os.PathLike[str] = ...) -> Image.Image: ...


def remove(
    image: ImageInput | bytes,
    model: str | os.PathLike[str] | None = None,
    *,
    foreground: str = "fast",
    strategy: str | None = None,
    device: str = "auto",
    guide: str | os.PathLike[str] = "auto",
) -> np.ndarray | bytes | Image.Image:
    """Cut the foreground out of one image.

    Args:
        image: a path, a PIL image, a uint8 array (``(H, W, 3)`` RGB, ``(H, W)``
            gray or ``(H, W, 4)``, alpha ignored) or the bytes of an image file.
        model: a name from ``gfm weights list``, a checkpoint file or a
            ``gfm train`` run folder; ``None``: the default weights
            (:func:`gfm.inference.models.default_model_name`: the bundled gfm-lite);
            registered weights missing from the cache are downloaded on first use.
        foreground: foreground colour estimation, ``"fast"`` (default),
            ``"ml"``, ``"cf"``, ``"blur"`` or ``"none"`` (plain image x alpha);
            see :func:`gfm.inference.estimate_foreground`.
        strategy: ``"hybrid"``, ``"single"`` or ``"resize"``; None (default): the
            strategy measured best for the weights.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` ...
        guide: ``"auto"`` (default: the ISNet guide when its file is in the cache,
            as ``gfm matte`` does; never downloads), ``"none"``, a guide's name
            (downloaded on first use) or an ``.onnx`` segmentation model; see
            :func:`gfm.inference.guide.load_guide`.

    Returns:
        The RGBA cutout at the input's size, in the input's kind: a
        ``(H, W, 4)`` uint8 array for an array, PNG bytes for bytes, else a
        PIL image (mode ``RGBA``).

    Raises:
        gfm.errors.CheckpointError: the weights are not in the cache and cannot
            be downloaded (the message says how to get them).
        gfm.errors.InputError: an unreadable image.
    """
    predictor: Predictor | OnnxPredictor | None = None
    if model is None and device in ("auto", "cpu") and ("torch" not in sys.modules or _quick_predictor.cache_info().currsize):
        predictor = _quick_predictor(strategy, os.fspath(guide))
    if predictor is None:
        from gfm.inference.models import default_model_name

        spec = default_model_name() if model is None else os.fspath(model)
        predictor = _predictor(spec, strategy, device, os.fspath(guide))
    if isinstance(image, (bytes, bytearray)):
        from gfm.io import decode_image

        rgba = predictor.predict(decode_image(bytes(image), "the image bytes")).cutout(foreground)
        buffer = io.BytesIO()
        Image.fromarray(rgba).save(buffer, format="PNG")
        return buffer.getvalue()
    rgba = predictor.predict(image).cutout(foreground)
    if isinstance(image, np.ndarray):
        return rgba
    return Image.fromarray(rgba)  # (H, W, 4) uint8: mode RGBA
