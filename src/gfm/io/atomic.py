"""Atomic file writes: a temporary file in the target folder, then a rename.

An interrupted run therefore never leaves a truncated output behind: the
target either has its old content (or does not exist) or the complete new one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
    """The process umask, read without changing it where the OS allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: the classic set-and-restore
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], *, fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    The temporary file keeps the target's suffix (so writers that pick the
    format from the extension work) and is removed if the block raises. The
    result gets the permissions of a normally created file (``0o666`` minus
    the umask, or the old target's mode when it is replaced), not the private
    ``0o600`` of :func:`tempfile.mkstemp`.

    Args:
        path: the final file.
        fsync: flush the file's data to disk before the rename, so that a
            power loss cannot leave an empty file under the final name (costs a
            disk sync; worth it for large downloads, not for every matte).

    Example::

        with atomic_write("out/alpha.png") as tmp:
            cv2.imwrite(str(tmp), alpha)
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=f".tmp{target.suffix}"
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        try:
            mode = target.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        if fsync:
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
