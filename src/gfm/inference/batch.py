"""Batch matting of files: input discovery, output naming, per-file work.

The command line (``gfm matte``) is a thin layer over these functions.
"""

from __future__ import annotations

import glob
from concurrent.futures import Future
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gfm.data.layouts import is_image_file
from gfm.errors import GFMError, InputError

OUTPUT_KINDS = ("alpha", "cutout", "foreground", "composite", "trimap", "preview")
FOREGROUND_KINDS = ("cutout", "foreground", "composite", "preview")  # outputs that need foreground colours
_OUTPUT_SUFFIX = {"alpha": ".png", "cutout": ".png", "foreground": ".png", "composite": ".png", "trimap": ".png", "preview": ".jpg"}


#: The input and output name meaning standard input / standard output.
STDIO = "-"
#: Suffixes that make ``--out`` a single output file rather than a folder.
FILE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")
_ALPHA_KINDS = ("alpha", "trimap")  # written as grayscale PNG whatever the suffix


@dataclass(frozen=True)
class MatteJob:
    """One input image and where its outputs go (``out_dir / relative_stem + _KIND.png``,
    or the one file ``target`` for ``gfm matte photo.jpg -o cutout.png``).

    ``source`` is ``Path("-")`` for an image read from standard input."""

    source: Path
    relative_stem: Path
    target: Path | None = None

    def output(self, out_dir: Path, kind: str) -> Path:
        if self.target is not None:
            return self.target
        return out_dir / self.relative_stem.parent / f"{self.relative_stem.name}_{kind}{_OUTPUT_SUFFIX[kind]}"

    @property
    def from_stdin(self) -> bool:
        return str(self.source) == STDIO


def is_single_file_output(out: Path) -> bool:
    """``--out`` names one file (``-`` for standard output, or an image suffix
    such as ``cutout.png`` that is not an existing folder), not an output folder."""
    return str(out) == STDIO or (out.suffix.lower() in FILE_SUFFIXES and not out.is_dir())


def check_single_file_output(out: Path, kind: str) -> None:
    """Refuse, before any work, a single output file that cannot hold ``kind``.

    Raises:
        InputError: the suffix cannot store it (an alpha as JPEG, a cutout without
            transparency), naming a suffix that can.
    """
    if str(out) == STDIO:
        return
    suffix = out.suffix.lower()
    if kind in _ALPHA_KINDS and suffix != ".png":
        raise InputError(f"{out}: the {kind} is written as a grayscale PNG; name the file {out.with_suffix('.png').name}")
    if kind == "cutout" and suffix in (".jpg", ".jpeg", ".bmp"):
        raise InputError(f"{out}: {suffix} cannot store the cutout's transparency; use .png (or --outputs composite for a flat image)")


def stdout_suffix(kind: str) -> str:
    """The format written to standard output for ``kind`` (PNG; JPEG for the preview)."""
    return _OUTPUT_SUFFIX[kind]


def _images_in(folder: Path, recursive: bool) -> list[Path]:
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in folder.glob(pattern) if p.is_file() and is_image_file(p))


def collect_jobs(inputs: Sequence[str], recursive: bool = False) -> tuple[list[MatteJob], list[str]]:
    """Expand files, folders and globs into jobs.

    ``"-"`` is an image read from standard input (outputs named ``stdin_KIND``).

    Returns:
        ``(jobs, problems)``: problems are inputs that matched nothing.
        Folder contents keep their sub-folders in the output names.

    Raises:
        InputError: two inputs would write the same output files.
    """
    jobs: list[MatteJob] = []
    problems: list[str] = []
    seen: set[Path] = set()

    def add(path: Path, relative: Path) -> None:
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            jobs.append(MatteJob(path, relative.with_suffix("")))

    for text in inputs:
        path = Path(text)
        if text == STDIO:
            jobs.append(MatteJob(path, Path("stdin")))
        elif path.is_dir():
            found = _images_in(path, recursive)
            if not found:
                problems.append(f"{path}: no images in this folder{'' if recursive else ' (use -r for sub-folders)'}")
            for image in found:
                add(image, image.relative_to(path))
        elif path.is_file():
            add(path, Path(path.name))
        else:
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True) if Path(m).is_file())
            if not matches:
                problems.append(f"{text}: no such file, folder or matching pattern")
            for match in matches:
                add(match, Path(match.name))
    stems: dict[Path, Path] = {}
    for job in jobs:
        other = stems.setdefault(job.relative_stem, job.source)
        if other != job.source:
            raise InputError(f"{other} and {job.source} would write the same outputs ({job.relative_stem}_*); rename one or run them separately")
    return jobs, problems


def check_writable(out_dir: Path) -> None:
    """Create ``out_dir`` and make sure files can be written there."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".gfm-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise GFMError(f"{out_dir}: cannot write outputs there ({error.strerror or error}); choose another --out folder") from None


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
) -> None:
    """Compute the requested outputs of one image and write each atomically."""
    from gfm.inference.foreground import composite, cutout, estimate_foreground, preview
    from gfm.io import write_alpha, write_image

    kinds = list(kinds)
    needs_foreground = any(k in kinds for k in FOREGROUND_KINDS)
    foreground = estimate_foreground(image, alpha, foreground_method) if needs_foreground else None
    for kind in kinds:
        target = job.output(out_dir, kind)
        target.parent.mkdir(parents=True, exist_ok=True)
        if kind == "alpha":
            write_alpha(target, alpha, bits=alpha_bits)
        elif kind == "trimap":
            if trimap is None:
                raise GFMError("internal: the trimap output was asked for but not predicted")
            write_alpha(target, trimap.astype(np.float32) / 255.0)  # 0 / 128 / 255 survive exactly
        elif kind == "cutout":
            write_image(target, cutout(foreground, alpha))
        elif kind == "foreground":
            write_image(target, foreground)
        elif kind == "composite":
            write_image(target, composite(foreground, alpha, background))
        elif kind == "preview":
            write_image(target, preview(image, alpha, foreground))



class OutputPipeline:
    """Writes one image's outputs in a background thread while the next image is predicted.

    Foreground estimation (numba, GIL released) and PNG/JPEG encoding run on
    one worker thread; the caller's thread keeps the network busy. At most one
    image waits to be written, so memory stays bounded at two images.
    Failures are reported through ``on_error(job, error)``, successes through
    ``on_done(job)``, both called on the caller's thread.

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
            except (GFMError, OSError, MemoryError) as error:
                self._on_error(job, error)
            else:
                self._on_done(job)
            return
        self._pending = (job, self._executor.submit(write_outputs, job, *args))

    def settle(self) -> None:
        """Wait for the queued image, if any, and report how it went."""
        if self._pending is None:
            return
        job, future = self._pending
        self._pending = None
        try:
            future.result()
        except (GFMError, OSError, MemoryError) as error:
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
