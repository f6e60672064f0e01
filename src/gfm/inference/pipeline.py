"""Read ahead: decode the next image on a thread while the current one is matted.

With :class:`gfm.inference.batch_writer.OutputPipeline` (write behind) this makes
``gfm matte``'s folder loop a three-stage pipeline: image k + 1 is decoded
while image k goes through the network and image k - 1's foreground colours
and files are written. Memory stays bounded: at most one image is read ahead,
and none while the image in hand is over
:data:`~gfm.inference.batch_writer.OVERLAP_MAX_PIXELS` (so two large images never
share the memory, as with writing).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from gfm.inference.batch import MatteJob
from gfm.inference.batch_writer import OVERLAP_MAX_PIXELS

T = TypeVar("T")

#: The warning :func:`gfm.io.read_image` gives for a dropped alpha channel; a
#: batch counts these itself (:attr:`LoadedImage.dropped_alpha`) and silences the
#: warning, since ``warnings.catch_warnings`` cannot be scoped to one thread.
ALPHA_WARNING = r".*: the image has an alpha channel"


@dataclass(frozen=True)
class LoadedImage:
    """A decoded input: ``image`` ``(H, W, 3)`` uint8 RGB; ``dropped_alpha``: the file
    had an alpha channel or transparency key, which was ignored."""

    image: np.ndarray
    dropped_alpha: bool = False


def _has_alpha(source: Path | bytes) -> bool:
    from gfm.io.images import _ALPHA_MODES, open_header

    try:
        with open_header(Path("<stdin>"), source, sys.maxsize) if isinstance(source, bytes) else open_header(source) as header:
            return header.mode in _ALPHA_MODES or "transparency" in header.info
    except Exception:  # noqa: BLE001 - the decode that follows reports what is wrong with the file
        return False


def load_job_image(job: MatteJob, stdin: io.BufferedIOBase | None = None) -> LoadedImage:
    """Decode ``job``'s input (a file, or standard input for ``-``) with :func:`gfm.io.read_image`'s rules.

    Raises:
        InputError: an unreadable file, naming it.
    """
    from gfm.io import decode_image, read_image
    from gfm.io.stream import read_image_stream

    if job.from_stdin:  # read in bounded chunks: refused at the first bytes that are not an image's
        data = read_image_stream(stdin or sys.stdin.buffer)
        return LoadedImage(decode_image(data, "<stdin>"), bool(data) and _has_alpha(data))
    return LoadedImage(read_image(job.source), _has_alpha(job.source))


def _attempt(read: Callable[[T], LoadedImage | None], item: T) -> tuple[LoadedImage | None, BaseException | None]:
    try:
        return read(item), None
    except Exception as error:  # one input's failure is reported with it; the batch goes on
        return None, error


def _large(loaded: LoadedImage | None) -> bool:
    return loaded is not None and loaded.image.shape[0] * loaded.image.shape[1] > OVERLAP_MAX_PIXELS


def read_ahead(
    items: Iterable[T], read: Callable[[T], LoadedImage | None], *, threaded: bool = True
) -> Iterator[tuple[T, LoadedImage | None, BaseException | None]]:
    """``(item, read(item), None)`` or ``(item, None, error)`` for each item, in order,
    with the next item's ``read`` running on a thread while the caller works on this one.

    ``read`` may return ``None`` (an item that needs no image, e.g. one skipped).
    ``threaded=False`` reads each item when it is asked for (same results).
    """
    if not threaded:
        for item in items:
            yield (item, *_attempt(read, item))
        return
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gfm-reader")
    pending: tuple[T, Future[tuple[LoadedImage | None, BaseException | None]]] | None = None
    try:
        for item in items:
            if pending is None:
                pending = (item, executor.submit(_attempt, read, item))
                continue
            previous, future = pending
            loaded, error = future.result()
            if _large(loaded):  # a large image in hand: the next one is read after it is done
                pending = None
                yield previous, loaded, error
                del loaded
                pending = (item, executor.submit(_attempt, read, item))
            else:
                pending = (item, executor.submit(_attempt, read, item))
                yield previous, loaded, error
        if pending is not None:
            previous, future = pending
            pending = None
            yield (previous, *future.result())
    finally:
        if pending is not None:
            pending[1].cancel()
        executor.shutdown(wait=True)


__all__ = ["ALPHA_WARNING", "LoadedImage", "load_job_image", "read_ahead"]
