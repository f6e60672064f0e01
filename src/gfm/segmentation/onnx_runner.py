"""One runner for ONNX segmentation models: teacher labels and guides share it.

A salient-object or person segmentation model (ISNet, U2-Net, BiRefNet as
rembg serves them) takes one ``(1, 3, H, W)`` RGB tensor and returns a
``(1, 1, H, W)`` (or ``(1, H, W)``) map in [0, 1]. :class:`OnnxSegmenter`
runs such a file through onnxruntime: the photo resized to the model's input,
normalised as ``(rgb / 255 - mean) / std``, the output resized back to the
photo's size.

Two users, neither of which depends on the other:

* ``gfm prepare teacher`` (:mod:`gfm.data.teacher`) labels training photos;
* guides (:mod:`gfm.inference.guide`) steer GFM's glance at run time.

Torch-free (numpy, OpenCV and onnxruntime only), so the ONNX matting path
runs guides without PyTorch.

Example::

    segmenter = OnnxSegmenter("isnet.onnx", SegmenterSpec(size=1024, mean=0.5, std=1.0))
    mask = segmenter.predict(rgb)          # (H, W) float32 in [0, 1]
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from gfm.errors import CheckpointError, ConfigError, GFMError, InputError

#: The output post-processing a :class:`SegmenterSpec` may ask for.
OUTPUT_SCALINGS = ("clip", "minmax")


@dataclass(frozen=True)
class SegmenterSpec:
    """How a segmentation model wants its input and how to read its output.

    Attributes:
        size: the square input side used when the file does not fix one (its
            input's height and width are symbolic); a file's fixed input size wins.
        mean, std: per-channel normalisation on RGB in [0, 1] (ISNet: 0.5 and 1.0).
        output: ``"clip"`` (values clipped to [0, 1]; for models ending in a
            sigmoid) or ``"minmax"`` (scaled so the smallest value is 0 and the
            largest 1, as rembg does).
    """

    size: int = 1024
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    output: str = "clip"

    def __post_init__(self) -> None:
        if self.size < 32:
            raise ConfigError(f"a segmentation model's input side must be at least 32 px, got {self.size}")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ConfigError(f"mean and std need 3 values each and std > 0, got mean {self.mean}, std {self.std}")
        if self.output not in OUTPUT_SCALINGS:
            raise ConfigError(f"unknown output scaling {self.output!r}; expected one of {', '.join(OUTPUT_SCALINGS)}")


def three(value: float | tuple[float, ...] | list[float]) -> tuple[float, float, float]:
    """One value or three, as the three channels' values."""
    values = [float(v) for v in np.broadcast_to(np.asarray(value, dtype=np.float64), (3,))]
    return values[0], values[1], values[2]


class OnnxSegmenter:
    """An ONNX segmentation model in an onnxruntime session (CPU).

    Args:
        model: path of the ``.onnx`` file.
        spec: input size, normalisation and output scaling (default: ISNet's).
        threads: onnxruntime intra-op threads (None: onnxruntime's default).
        output: name of the output to read (None: the first).
        what: how messages name the model (``"guide"``, ``"teacher"``).
        error: the exception class raised for a bad file (the command line
            prints any :class:`~gfm.errors.GFMError` on one line).

    Raises:
        ConfigError: onnxruntime is not installed.
        ``error``: a missing file, a file onnxruntime cannot load, or a model
            without one 3-channel image input and a 1-channel output.
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        spec: SegmenterSpec | None = None,
        *,
        threads: int | None = None,
        output: str | None = None,
        what: str = "segmentation model",
        error: type[GFMError] = CheckpointError,
    ) -> None:
        self.path = Path(model)
        self.what = what
        self.spec = spec or SegmenterSpec()
        if not self.path.is_file():
            raise error(f"{self.path}: no such {what} file; pass the path of an .onnx segmentation model")
        try:
            import onnxruntime as ort
        except ImportError:
            raise ConfigError(f'{self.path}: running a {what} needs onnxruntime: pip install "gfm-matting[guide]" (or onnxruntime)') from None
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise error(f"{self.path}: onnxruntime cannot load this file as a model ({str(exc)[:200]}); "
                        "is it a complete .onnx file? Download or export it again") from None
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].shape[1] not in (3, "3"):
            shapes = ", ".join(f"{i.name} {i.shape}" for i in inputs)
            raise error(f"{self.path}: not a segmentation model: a {what} needs one (1, 3, H, W) RGB image input, "
                        f"this file has {shapes or 'no input'}")
        chosen = [o for o in outputs if output is None or o.name == output]
        if not chosen:
            raise error(f"{self.path}: no output named {output!r} (outputs: {', '.join(o.name for o in outputs)})")
        first = chosen[0]
        if len(first.shape) not in (3, 4) or (len(first.shape) == 4 and first.shape[1] not in (1, "1")):
            raise error(f"{self.path}: not a segmentation model: its output {first.name} has shape {first.shape}, "
                        "a mask needs (1, 1, H, W) or (1, H, W)")
        self.input_name = inputs[0].name
        self.input_fp16 = "float16" in inputs[0].type
        self.output_name = first.name
        height, width = inputs[0].shape[2], inputs[0].shape[3]
        fixed = isinstance(height, int) and isinstance(width, int) and height > 0 and width > 0
        self.input_size = (height, width) if fixed else (self.spec.size, self.spec.size)
        self._mean = np.asarray(self.spec.mean, np.float32).reshape(3, 1, 1)
        self._std = np.asarray(self.spec.std, np.float32).reshape(3, 1, 1)
        self._error = error

    def predict(self, image: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        """The model's mask of one photo.

        Args:
            image: ``(H, W, 3)`` uint8 RGB.
            size: ``(height, width)`` of the mask returned (default: the image's).

        Returns:
            ``(height, width)`` float32 in [0, 1].

        Raises:
            InputError: not an ``(H, W, 3)`` uint8 image.
            ``error`` (the constructor's): the model failed to run, returned NaN or
                infinite values, or not one map (a broken file, not a fault of the photo).
        """
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise InputError(f"a {self.what} takes uint8 (H, W, 3) RGB images, got {image.dtype} {image.shape}")
        h, w = image.shape[:2]
        in_h, in_w = self.input_size
        shrink = min(h, w) > min(in_h, in_w)
        resized = cv2.resize(image, (in_w, in_h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        x = (resized.transpose(2, 0, 1).astype(np.float32) * np.float32(1 / 255) - self._mean) / self._std
        x = x[None].astype(np.float16 if self.input_fp16 else np.float32)
        try:
            (y,) = self.session.run([self.output_name], {self.input_name: x})
        except Exception as exc:  # onnxruntime's own exception types: the graph failed, not the photo
            raise self._error(f"{self.path}: the {self.what} failed to run ({str(exc)[:200]}); "
                              "the file is not a working segmentation model") from None
        y = np.asarray(y, dtype=np.float32)
        if y.ndim < 2 or y.size != y.shape[-2] * y.shape[-1] or min(y.shape[-2:]) < 1:
            raise self._error(f"{self.path}: the {self.what} returned an array of shape {y.shape}, not one mask")
        y = y.reshape(y.shape[-2], y.shape[-1])  # a model may answer at another resolution: resized below
        if not np.isfinite(y).all():
            raise self._error(f"{self.path}: the {self.what} returned NaN or infinite values; the file is broken "
                              "(download or export it again)")
        if self.spec.output == "minmax":
            low, high = float(y.min()), float(y.max())
            y = (y - low) / max(high - low, 1e-12)
        else:
            y = np.clip(y, 0.0, 1.0)
        out_h, out_w = size if size is not None else (h, w)
        return cv2.resize(y, (out_w, out_h), interpolation=cv2.INTER_LINEAR)


__all__ = ["OUTPUT_SCALINGS", "OnnxSegmenter", "SegmenterSpec", "three"]
