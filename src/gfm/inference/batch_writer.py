"""Batch matting's writing: each image's outputs written atomically (all or none),
in a background thread while the next image is predicted, and the report of a run.

What to write and where (jobs, output names, the checks before any work) is
:mod:`gfm.inference.batch`.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gfm.errors import GFMError, OutputError, describe_os_error
from gfm.inference.batch import OUTPUT_SUFFIX, FOREGROUND_KINDS, OUTPUT_MARK, MatteJob
from gfm.io.atomic import FileStamp


@dataclass
class BatchReport:
    done: int = 0
    skipped: int = 0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def write_outputs(
    job: MatteJob,
    out_dir: Path,
    kinds: Iterable[str],
    image: np.ndarray,
    alpha: np.ndarray,
    trimap: np.ndarray | None,
    foreground_method: str,
    background: np.ndarray | tuple[int, int, int],
    alpha_bits: int,
    replace: Mapping[str, bool | FileStamp] | None = None,
) -> None:
    """Compute the requested outputs of one image and write each atomically.

    Each file carries :data:`OUTPUT_MARK`. ``replace`` maps a kind to what its
    final rename may replace (:func:`plan_outputs`); kinds not in it replace
    whatever is there. If anything fails, the files this call already wrote
    are removed: an image has all its outputs or none. A job for standard output
    (``-o -``) has its one output encoded in memory, then written to stdout at once.
    """
    from gfm.inference.foreground import composite, cutout, estimate_foreground, preview
    from gfm.io import write_alpha, write_image

    kinds = list(kinds)
    replace = replace or {}
    needs_foreground = any(k in kinds for k in FOREGROUND_KINDS)
    foreground = estimate_foreground(image, alpha, foreground_method) if needs_foreground else None
    written: list[Path] = []
    if job.to_stdout:  # encoded in memory, then written at once: no file, nothing left if killed
        stream = io.BytesIO()
        options_stdout = {"mark": OUTPUT_MARK}
        kind = kinds[0]
        if kind in ("alpha", "trimap"):
            write_alpha(stream, alpha if kind == "alpha" else _trimap_alpha(trimap), bits=alpha_bits if kind == "alpha" else 8, **options_stdout)
        else:
            pixels = {"cutout": lambda: cutout(foreground, alpha), "foreground": lambda: foreground,
                      "composite": lambda: composite(foreground, alpha, background), "preview": lambda: preview(image, alpha, foreground)}[kind]()
            write_image(stream, pixels, suffix=OUTPUT_SUFFIX[kind], **options_stdout)
        sys.stdout.buffer.write(stream.getvalue())
        sys.stdout.buffer.flush()
        return
    try:
        for kind in kinds:
            target = job.output(out_dir, kind)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                raise OutputError(
                    f"{target.parent}: a file is in the way of this output folder; move it, or choose another --out"
                ) from None
            options = {"replace": replace.get(kind, True), "mark": OUTPUT_MARK}
            colour_options = {**options, "quality": job.image_format.quality}
            if kind == "alpha":
                write_alpha(target, alpha, bits=alpha_bits, **options)
            elif kind == "trimap":
                write_alpha(target, _trimap_alpha(trimap), **options)
            elif kind == "cutout":
                write_image(target, cutout(foreground, alpha), **colour_options)
            elif kind == "foreground":
                write_image(target, foreground, **colour_options)
            elif kind == "composite":
                write_image(target, composite(foreground, alpha, background), **colour_options)
            elif kind == "preview":
                write_image(target, preview(image, alpha, foreground), **options)
            written.append(target)
    except BaseException:
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        raise


def _trimap_alpha(trimap: np.ndarray | None) -> np.ndarray:
    """The glance map as an alpha in [0, 1] (0 / 128 / 255 survive the 8-bit round trip exactly)."""
    if trimap is None:
        raise GFMError("internal: the trimap output was asked for but not predicted")
    return trimap.astype(np.float32) / 255.0


def describe_failure(error: BaseException) -> str:
    """One line for a failed image: the message of errors a user can act on, else the kind of bug."""
    if isinstance(error, GFMError):
        return str(error)
    if isinstance(error, OSError):
        return describe_os_error(error)
    if isinstance(error, MemoryError):
        return "out of memory; lower --max-pixels or close other programs"
    return f"unexpected {type(error).__name__} ({error}); this is a bug in gfm, please report it with this image"


# Above this many pixels, an image's outputs are written before the next image is
# read, so two large images never share the memory.
OVERLAP_MAX_PIXELS = 16_000_000


class OutputPipeline:
    """Writes one image's outputs in a background thread while the next image is predicted.

    Foreground estimation (numba, GIL released) and PNG/JPEG encoding run on
    one worker thread; the caller's thread keeps the network busy. At most one
    image waits to be written, so memory stays bounded at two images (one,
    above :data:`OVERLAP_MAX_PIXELS`).
    Any exception of one image's work is that image's failure, reported
    through ``on_error(job, error)`` (the batch goes on); successes through
    ``on_done(job)``; both called on the caller's thread.

    Use as a context manager: leaving the block waits for the last write.
    """

    def __init__(
        self, on_done: Callable[[MatteJob], None], on_error: Callable[[MatteJob, BaseException], None], threaded: bool = True
    ) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._on_done = on_done
        self._on_error = on_error
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gfm-writer") if threaded else None
        self._pending: tuple[MatteJob, Future[None]] | None = None

    def submit(self, job: MatteJob, *args: object) -> None:
        """Queue ``write_outputs(job, *args)``, after settling the previous image."""
        self.settle()
        if self._executor is None:
            try:
                write_outputs(job, *args)  # type: ignore[arg-type]
            except Exception as error:  # one image's failure, whatever it is, never ends the batch
                self._on_error(job, error)
            else:
                self._on_done(job)
            return
        self._pending = (job, self._executor.submit(write_outputs, job, *args))
        image = args[2]  # write_outputs(job, out_dir, kinds, image, ...)
        if isinstance(image, np.ndarray) and image.shape[0] * image.shape[1] > OVERLAP_MAX_PIXELS:
            self.settle()  # a large image is written before the next is read: one at a time in memory

    def settle(self) -> None:
        """Wait for the queued image, if any, and report how it went."""
        if self._pending is None:
            return
        job, future = self._pending
        self._pending = None
        try:
            future.result()
        except Exception as error:  # one image's failure, whatever it is, never ends the batch
            self._on_error(job, error)
        else:
            self._on_done(job)

    def __enter__(self) -> OutputPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.settle()
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
