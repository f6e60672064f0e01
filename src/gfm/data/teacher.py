"""Teacher labels: alpha-like masks of real photos from an ONNX segmentation model.

Real photos without mattes can still teach a matting network where the
salient object is, when a stronger segmentation model (the "teacher", e.g.
ISNet from the DIS project) labels them. This module runs any ONNX model with
one ``(1, 3, S, S)`` RGB input and a ``(1, 1, S, S)`` (or ``(1, S, S)``) output in
[0, 1] (through :mod:`gfm.segmentation`, the runner guides use too) and writes the output, resized back to each photo's size, as an 8-bit
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

import numpy as np

from gfm.errors import ConfigError, GFMError, InputError
from gfm.segmentation.onnx_runner import OnnxSegmenter, SegmenterSpec, three


@dataclass
class TeacherReport:
    """What :func:`label_images` did: files written, kept from an earlier run, failed."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


class OnnxTeacher(OnnxSegmenter):
    """An ONNX segmentation model used as a teacher (:class:`~gfm.segmentation.OnnxSegmenter`).

    Args:
        model: path of the ``.onnx`` file.
        size: the model's square input side when the file does not fix it (ISNet: 1024).
        mean, std: input normalisation on [0, 1] RGB, ``x = (rgb / 255 - mean) / std``
            (ISNet as packaged by @imgly: mean 0.5, std 1.0).
        threads: onnxruntime intra-op threads (None: onnxruntime's default).
        output: name of the output to read (None: the first).

    Raises:
        ConfigError: onnxruntime is missing, or the file is not a model with one
            3-channel image input and a 1-channel output.
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
        if size < 32:
            raise ConfigError(f"teacher input size must be at least 32 px, got {size}")
        mean3, std3 = three(mean), three(std)  # type: ignore[arg-type]
        if min(std3) <= 0:
            raise ConfigError(f"teacher std must be positive, got {std}")
        spec = SegmenterSpec(size=int(size), mean=mean3, std=std3, output="clip")
        super().__init__(model, spec, threads=threads, output=output, what="teacher model", error=ConfigError)


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
        except GFMError as error:
            report.failed.append((path, str(error)))
            continue
        report.written.append(target)
    return report
