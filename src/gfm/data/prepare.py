"""Precomputation into the cache (``gfm prepare foregrounds`` / ``gfm prepare denoise``).

Each file is one task, run by a pool of worker processes with a progress bar.
A task whose outputs all exist is skipped, and every output is written
atomically (temporary file, then rename), so a run killed at any moment can
simply be started again. A task that fails (unreadable image, 16-bit alpha,
...) is reported and skipped; :class:`PrepareReport` lists it and the
command line exits non-zero.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gfm.data.cache import Cache, check_computed, image_key
from gfm.data.layouts import ImageSplit, MattingSample
from gfm.errors import GFMError


@dataclass(frozen=True)
class ForegroundTask:
    """Estimate ``F`` and ``B`` of one sample into ``fg_out`` and ``bg_out``."""

    image: Path
    alpha: Path
    fg_out: Path
    bg_out: Path
    method: str

    @property
    def source(self) -> Path:
        return self.image

    @property
    def outputs(self) -> tuple[Path, ...]:
        return (self.fg_out, self.bg_out)


@dataclass(frozen=True)
class DenoiseTask:
    """Denoise ``src`` (an RGB image) into ``out``."""

    src: Path
    out: Path
    denoiser: str
    missing_hint: str = "the file to denoise is missing"

    @property
    def source(self) -> Path:
        return self.src

    @property
    def outputs(self) -> tuple[Path, ...]:
        return (self.out,)


Task = ForegroundTask | DenoiseTask


@dataclass
class PrepareReport:
    """Outcome of :func:`run_tasks`: counts and ``(file, reason)`` of failures."""

    done: int = 0
    skipped: int = 0
    failed: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def foreground_tasks(samples: Sequence[MattingSample], cache: Cache, method: str = "cf") -> list[ForegroundTask]:
    return [
        ForegroundTask(s.image, s.alpha, cache.foreground(s.key, method), cache.background_estimate(s.key, method), method)
        for s in samples
    ]


def denoise_foreground_tasks(
    samples: Sequence[MattingSample], cache: Cache, method: str = "cf", denoiser: str = "bm3d"
) -> list[DenoiseTask]:
    """Denoise cached foregrounds (they must have been prepared first)."""
    hint = (
        f"no cached {method} foreground: run `gfm prepare foregrounds ROOT --method {method}` first, "
        "or pass the --method the foregrounds were computed with"
    )
    return [
        DenoiseTask(cache.foreground(s.key, method), cache.denoised_foreground(s.key, method, denoiser), denoiser, hint)
        for s in samples
    ]


def denoise_image_tasks(split: ImageSplit, cache: Cache, denoiser: str = "bm3d") -> list[DenoiseTask]:
    """Denoise every image of a background set."""
    return [DenoiseTask(p, cache.denoised_image(image_key(p, split.root), denoiser), denoiser) for p in split.images]


def run_task(task: Task) -> None:
    """Compute one task and write its outputs atomically (raises on failure)."""
    from gfm.io import read_image, write_image

    if isinstance(task, ForegroundTask):
        from gfm.data.files import read_pair
        from gfm.data.foreground import estimate_foreground

        image, alpha = read_pair(task.image, task.alpha)
        fg, bg = estimate_foreground(image, alpha, task.method)
        check_computed(fg, image[alpha > 0], task.fg_out, f"the {task.method} foreground estimate")
        write_image(task.fg_out, fg)
        write_image(task.bg_out, bg)
    elif isinstance(task, DenoiseTask):
        from gfm.data.denoise import denoise
        from gfm.errors import InputError

        if not task.src.is_file():
            raise InputError(f"{task.src}: not found ({task.missing_hint})")
        source = read_image(task.src)
        out = denoise(source, task.denoiser)
        check_computed(out, source, task.out, f"{task.denoiser} denoising")
        write_image(task.out, out)
    else:  # pragma: no cover - typed
        raise TypeError(type(task))


def _guarded(task: Task) -> tuple[Task, str | None]:
    try:
        run_task(task)
    except GFMError as error:
        return task, str(error)
    except Exception as error:  # noqa: BLE001 - one bad file must not stop a 20k-file run
        last = traceback.format_exception_only(type(error), error)[-1].strip()
        return task, f"{task.source}: {last}"
    return task, None


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)


_SINGLE_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def remove_stale_temporaries(folders: set[Path], older_than_s: float = 60.0) -> int:
    """Delete temporary files left by killed atomic writes (``.NAME.XXXXXXXX.tmp.png``)
    older than ``older_than_s`` seconds in ``folders``. Returns how many."""
    from gfm.io.atomic import remove_stale_temporaries as remove_in

    return sum(remove_in(folder, older_than_s=older_than_s) for folder in folders)


def run_tasks(
    tasks: Sequence[Task],
    *,
    workers: int = 1,
    force: bool = False,
    progress: bool = True,
    desc: str = "preparing",
    on_failure: Callable[[Path, str], None] | None = None,
) -> PrepareReport:
    """Run ``tasks``, skipping finished ones, with ``workers`` processes.

    Args:
        workers: processes; ``<= 1`` runs in this process.
        force: recompute tasks whose outputs exist.
        progress: show a tqdm bar on stderr.
        on_failure: called with ``(file, reason)`` as each failure happens.
    """
    report = PrepareReport()
    todo = [t for t in tasks if force or not all(p.is_file() for p in t.outputs)]
    report.skipped = len(tasks) - len(todo)
    # Before anything else: a killed writer (here, or training's compute-missing) left them.
    remove_stale_temporaries({p.parent for t in tasks for p in t.outputs})
    if not todo:
        return report
    from tqdm import tqdm

    bar = tqdm(total=len(todo), desc=desc, unit="file", disable=not progress)

    def record(task: Task, error: str | None) -> None:
        if error is None:
            report.done += 1
        else:
            report.failed.append((task.source, error))
            if on_failure:
                on_failure(task.source, error)
        bar.update(1)

    try:
        if workers <= 1:
            for task in todo:
                record(*_guarded(task))
        else:
            # One thread a process: the pool provides the parallelism.
            saved = {k: os.environ.get(k) for k in _SINGLE_THREAD_ENV}
            os.environ.update({k: "1" for k in _SINGLE_THREAD_ENV})
            try:
                ctx = mp.get_context("spawn")
                pool = ctx.Pool(min(workers, len(todo)), initializer=_init_worker)
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
            with pool:
                for task, error in pool.imap_unordered(_guarded, todo, chunksize=1):
                    record(task, error)
    finally:
        bar.close()
    return report
