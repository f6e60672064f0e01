"""Teacher labels: alpha-like masks of real photos from an ONNX segmentation model.

Real photos without mattes can still teach a matting network where the
salient object is, when a stronger segmentation model (the "teacher", e.g.
ISNet from the DIS project) labels them. This module runs any ONNX model with
one ``(1, 3, S, S)`` RGB input and a ``(1, 1, S, S)`` (or ``(1, S, S)``) output in
[0, 1] and writes the output, resized back to each photo's size, as an 8-bit
PNG matte ``OUT/NAME.png`` next to nothing else, so that ``(photos, OUT)`` is an
image/alpha folder pair that training and evaluation read.

The teacher is only a labelling tool: nothing at run time depends on it.
``onnxruntime`` is needed (``pip install "gfm-matting[teacher]"``).

Example::

    teacher = OnnxTeacher("isnet.onnx", size=1024, mean=0.5, std=1.0)
    alpha = teacher.predict(read_image("cat.jpg"))   # float32 (H, W) in [0, 1]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from gfm.errors import ConfigError, GFMError, InputError


@dataclass
class TeacherReport:
    """What :func:`label_images` did: files written, kept from an earlier run, failed."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


class OnnxTeacher:
    """An ONNX segmentation model used as a teacher.

    Args:
        model: path of the ``.onnx`` file.
        size: the model's square input side (ISNet: 1024).
        mean, std: input normalisation on [0, 1] RGB, ``x = (rgb / 255 - mean) / std``
            (ISNet as packaged by @imgly: mean 0.5, std 1.0).
        threads: onnxruntime intra-op threads (None: onnxruntime's default).
        output: name of the output to read (None: the first).

    Raises:
        ConfigError: onnxruntime is missing, or the file is not a model with one
            4-D image input.
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        size: int = 1024,
        mean: float | Sequence[float] = 0.5,
        std: float | Sequence[float] = 1.0,
        threads: int | None = None,
        output: str | None = None,
    ) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise ConfigError('teacher labels need onnxruntime: pip install "gfm-matting[teacher]" (or onnxruntime)') from None
        path = Path(model)
        if not path.is_file():
            raise ConfigError(f"{path}: no such teacher model file; pass the path of an .onnx segmentation model")
        if size < 32:
            raise ConfigError(f"teacher input size must be at least 32 px, got {size}")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = int(threads)
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types
            raise ConfigError(f"{path}: onnxruntime cannot load this file as a model ({str(error)[:200]})") from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise ConfigError(f"{path}: a teacher needs one (1, 3, S, S) image input; this model has {len(inputs)} input(s)")
        fixed = [d for d in inputs[0].shape[2:] if isinstance(d, int)]
        if fixed and any(d != int(size) for d in fixed):
            raise ConfigError(f"{path}: this model takes {'x'.join(str(d) for d in inputs[0].shape[2:])} inputs, not {size}x{size}; "
                              f"pass --size {fixed[0]}")
        self.path = Path(path)
        self.input_name = inputs[0].name
        self.input_fp16 = "float16" in inputs[0].type
        self.output_name = output or self.session.get_outputs()[0].name
        self.size = int(size)
        self.mean = np.broadcast_to(np.asarray(mean, np.float32), (3,)).reshape(3, 1, 1)
        self.std = np.broadcast_to(np.asarray(std, np.float32), (3,)).reshape(3, 1, 1)
        if (self.std <= 0).any():
            raise ConfigError(f"teacher std must be positive, got {std}")

    def predict(self, image: np.ndarray) -> np.ndarray:
        """``uint8 (H, W, 3)`` RGB -> ``float32 (H, W)`` mask in [0, 1] at the image's size."""
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise InputError(f"teacher input must be uint8 (H, W, 3) RGB, got {image.dtype} {image.shape}")
        h, w = image.shape[:2]
        resized = cv2.resize(image, (self.size, self.size), interpolation=cv2.INTER_AREA if min(h, w) > self.size else cv2.INTER_LINEAR)
        x = (resized.transpose(2, 0, 1).astype(np.float32) / 255.0 - self.mean) / self.std
        x = x[None].astype(np.float16 if self.input_fp16 else np.float32)
        try:
            (y,) = self.session.run([self.output_name], {self.input_name: x})
        except Exception as error:  # onnxruntime's own types: the model, not the photo, is at fault
            message = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
            raise ConfigError(f"{self.path}: onnxruntime failed running this teacher model on a (1, 3, {self.size}, {self.size}) "
                              f"input ({message}); check --size and that it is a segmentation model") from None
        y = np.asarray(y, dtype=np.float32)
        if y.ndim < 2 or y.size != y.shape[-2] * y.shape[-1]:
            raise ConfigError(f"{self.path}: the teacher's output has shape {y.shape}; a teacher returns one (1, 1, H, W) mask")
        y = y.reshape(y.shape[-2], y.shape[-1])
        y = np.clip(y, 0.0, 1.0)
        return cv2.resize(y, (w, h), interpolation=cv2.INTER_LINEAR)


def label_images(
    images: Sequence[Path],
    out_dir: str | os.PathLike[str],
    teacher: OnnxTeacher | Callable[[np.ndarray], np.ndarray],
    *,
    force: bool = False,
    progress: bool = True,
) -> TeacherReport:
    """Write ``out_dir/<stem>.png`` (the teacher's mask) for every image.

    Resumable: masks already written are kept unless ``force``. Each file is
    written atomically; an image that cannot be read or labelled is reported
    in ``failed`` and the others go on. Two images with one stem are an error
    for the second (their masks would collide).
    """
    from tqdm import tqdm

    from gfm.io import read_image, write_alpha

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = TeacherReport()
    seen: dict[str, Path] = {}
    predict = teacher.predict if isinstance(teacher, OnnxTeacher) else teacher
    for path in tqdm(list(images), desc="teacher labels", unit="img", disable=not progress):
        target = out / f"{path.stem}.png"
        if path.stem in seen:
            report.failed.append((path, f"same name as {seen[path.stem]}: its mask would be replaced; rename one"))
            continue
        seen[path.stem] = path
        if target.exists() and not force:
            report.skipped.append(target)
            continue
        try:
            mask = predict(read_image(path))
            if not np.isfinite(mask).all():
                raise InputError("the teacher returned NaN or infinite values")
            write_alpha(target, mask)
        except ConfigError:
            raise  # the teacher model is at fault: every image would fail alike
        except GFMError as error:
            report.failed.append((path, str(error)))
            continue
        report.written.append(target)
    return report
