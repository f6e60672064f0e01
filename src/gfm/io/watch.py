"""A watched folder: the files that arrive in it (or are replaced), once completely written.

:class:`FolderWatcher` keeps, for each file it has handed out, the size and
modification time it had; a file is handed out when it is new or changed and
has kept the same size and time for ``settle_s`` seconds (a camera or an upload
still writing it changes them). File-system events come from watchdog (the
``watch`` extra: ``pip install 'gfm-matting[watch]'``), which wakes the watcher
at once; without it (or where its observer cannot start, e.g. out of inotify
watches) the folder is scanned every ``poll_s`` seconds. Either way, what is
ready is decided from the files' sizes and times, never from events alone.

Example::

    watcher = FolderWatcher(Path("incoming"), accept=lambda p: p.suffix == ".jpg")
    with watcher:
        for path in watcher.ready(stop):   # blocks; ends when stop is set
            print(path)
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


class FolderWatcher:
    """New and replaced files of a folder, each handed out once it is completely written.

    Args:
        folder: the folder to watch.
        accept: which files count (e.g. image suffixes; the caller's own outputs excluded).
        recursive: include sub-folders.
        settle_s: how long a file's size and modification time must stay unchanged.
        poll_s: the scan interval without file-system events (and the longest wait with them).
        use_events: use watchdog when it is installed; ``False`` forces polling.
    """

    def __init__(
        self,
        folder: Path,
        accept: Callable[[Path], bool],
        *,
        recursive: bool = False,
        settle_s: float = 0.5,
        poll_s: float = 0.5,
        use_events: bool = True,
    ) -> None:
        self.folder = Path(folder)
        self.accept = accept
        self.recursive = recursive
        self.settle_s = settle_s
        self.poll_s = poll_s
        self._wake = threading.Event()
        self._observer: Any = None
        self._handed: dict[Path, tuple[int, int]] = {}
        self._seen: dict[Path, tuple[tuple[int, int], float]] = {}  # path -> (size, mtime), when first seen so
        self.mode = "polling"
        if use_events:
            self._observer = self._start_observer()

    def _start_observer(self) -> Any:
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError:
            return None
        wake = self._wake

        class Wake(FileSystemEventHandler):  # type: ignore[misc]
            def on_any_event(self, event: Any) -> None:
                wake.set()

        observer = Observer()
        try:
            observer.schedule(Wake(), str(self.folder), recursive=self.recursive)
            observer.start()
        except OSError:  # e.g. the inotify watch limit: polling still works
            return None
        self.mode = "events (watchdog)"
        return observer

    def close(self) -> None:
        """Stop watching (the watchdog thread, if any)."""
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None

    def __enter__(self) -> FolderWatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _files(self) -> Iterator[tuple[Path, tuple[int, int]]]:
        stack = [self.folder]
        while stack:
            folder = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:  # removed meanwhile, or unreadable: the next scan sees it again
                continue
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if self.recursive and not entry.name.startswith("."):
                            stack.append(Path(entry.path))
                        continue
                    if not entry.is_file():
                        continue
                    stat = entry.stat()
                except OSError:
                    continue
                path = Path(entry.path)
                if self.accept(path):
                    yield path, (stat.st_size, stat.st_mtime_ns)

    def scan(self, now: float | None = None) -> list[Path]:
        """One look at the folder: the files that became ready since the last look, sorted."""
        now = time.monotonic() if now is None else now
        ready = []
        present = set()
        for path, state in self._files():
            present.add(path)
            if self._handed.get(path) == state:
                continue
            seen = self._seen.get(path)
            if seen is None or seen[0] != state:
                self._seen[path] = (state, now)  # new or still changing: wait until it settles
                continue
            if now - seen[1] >= self.settle_s and state[0] > 0:
                ready.append(path)
                self._handed[path] = state
                del self._seen[path]
        for gone in [p for p in self._seen if p not in present]:
            del self._seen[gone]
        for gone in [p for p in self._handed if p not in present]:
            del self._handed[gone]  # deleted: a file of that name later is new again
        return sorted(ready)

    def defer(self, path: Path, seconds: float) -> None:
        """Hand ``path`` out again once it has stayed unchanged for ``seconds`` more, or
        ``settle_s`` after it changes (e.g. a file that could not be read: perhaps its
        writer only paused)."""
        state = self._handed.pop(path, None)
        if state is not None:
            self._seen[path] = (state, time.monotonic() + seconds - self.settle_s)

    def mark_handled(self, path: Path) -> None:
        """Record ``path`` as handled in its present state (e.g. a file the caller wrote)."""
        try:
            stat = path.stat()
        except OSError:
            return
        self._handed[path] = (stat.st_size, stat.st_mtime_ns)

    def ready(self, stop: threading.Event) -> Iterator[Path]:
        """Files as they become ready, until ``stop`` is set (checked at least every ``poll_s``)."""
        while not stop.is_set():
            for path in self.scan():
                if stop.is_set():
                    return
                yield path
            waiting = bool(self._seen)  # a file is settling: look again soon
            self._wake.wait(min(self.poll_s, self.settle_s / 2) if waiting else self.poll_s)
            self._wake.clear()


__all__ = ["FolderWatcher"]
