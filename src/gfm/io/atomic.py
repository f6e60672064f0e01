"""Atomic file writes: a temporary file in the target folder, then a rename.

An interrupted run therefore never leaves a truncated output behind: the
target either has its old content (or does not exist) or the complete new one.

The final step can also refuse to replace what it did not mean to replace
(``replace=False``: create only; ``replace=FileStamp``: replace only the file
that was seen when the work was planned), so two runs writing into one folder
never silently overwrite each other's files.

Temporary files are named ``.NAME.RANDOM.tmpSUFFIX``;
:func:`remove_stale_temporaries` deletes old ones that a killed process left.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gfm.errors import OutputClashError

# A temporary file of ours untouched for this long belongs to a dead process:
# no single write takes an hour.
STALE_AFTER_S = 3600.0

# ``.NAME.`` + mkstemp's 8 random characters + ``.tmp`` + the target's suffix,
# ``.NAME.`` + 8 hex digits + ``.tmp.old`` (a replaced file set aside), or
# ``.NAME.`` + 8 random characters + ``.part`` (a weights download).
_TEMPORARY = re.compile(r"\..+\.[A-Za-z0-9_]{8}\.(tmp(\.[A-Za-z0-9]{1,10})?|part)")


@dataclass(frozen=True)
class FileStamp:
    """What identifies one version of a file: device, inode, size, modification time.

    Two stamps are equal only if the path still names the very file that was
    seen (a replaced or rewritten file has another inode, size or time).
    """

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: str | os.PathLike[str]) -> FileStamp | None:
        """The stamp of ``path`` (symbolic links not followed), ``None`` if nothing is there."""
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):  # (a file where a folder of the path should be)
            return None
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


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
def atomic_write(
    path: str | os.PathLike[str], *, fsync: bool = False, replace: bool | FileStamp = True
) -> Iterator[Path]:
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
        replace: what the final step may replace. ``True``: whatever is at
            ``path``. ``False``: nothing; the file is created only if ``path``
            is free at that moment (hard link, no check-then-rename race).
            A :class:`FileStamp`: only the file that stamp describes (or
            nothing, if it was removed meanwhile).

    Raises:
        OutputClashError: ``replace`` is not ``True`` and another file is at
            ``path`` at the final step (another process wrote it); the
            temporary file is removed and that file is left as it is.

    Example::

        with atomic_write("out/alpha.png") as tmp:
            cv2.imwrite(str(tmp), alpha)
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=f".tmp{target.suffix}"
        )
    except OSError as error:  # a read-only folder: the message names the file asked for, not our temporary
        raise _naming(error, target) from None
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
        if replace is True:
            os.replace(tmp, target)
        else:
            _commit_guarded(tmp, target, None if replace is False else replace)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if isinstance(error, OSError) and error.filename is not None and Path(os.fsdecode(error.filename)).name.startswith(f".{target.name}."):
            raise _naming(error, target) from None  # a full disk while writing the temporary: name the target
        raise


def _naming(error: OSError, target: Path) -> OSError:
    """The same error (class, errno, reason) about ``target`` rather than the temporary file."""
    return type(error)(error.errno, error.strerror, str(target))


def _link_no_clobber(tmp: Path, target: Path) -> None:
    """Give ``tmp`` the name ``target`` only if that name is free, then drop ``tmp``.

    ``os.link`` fails if ``target`` exists, atomically. On file systems
    without hard links, an ``O_EXCL`` placeholder reserves the name first.
    """
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV):
            raise
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))  # reserve the name
        os.replace(tmp, target)  # replaces only our own placeholder
        return
    os.unlink(tmp)


def _appeared(target: Path) -> OutputClashError:
    return OutputClashError(
        f"{target}: a file appeared there while this run worked (another run writing to the same "
        "place?); it was left as it is"
    )


def _commit_guarded(tmp: Path, target: Path, expected: FileStamp | None) -> None:
    """Rename ``tmp`` onto ``target`` only if ``target`` is absent or is ``expected``.

    To replace the expected file without a check-then-replace race, it is
    first moved aside under a private name (a rename is atomic: from then on
    no other process can change it unseen), checked, and the new file linked
    in without clobbering; a file that is not the expected one is put back.
    """
    if expected is None:
        try:
            _link_no_clobber(tmp, target)
        except FileExistsError:
            raise _appeared(target) from None
        return
    aside = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp.old")
    try:
        os.rename(target, aside)
    except FileNotFoundError:
        _commit_guarded(tmp, target, None)  # removed meanwhile: create it
        return
    if FileStamp.of(aside) != expected:
        with contextlib.suppress(OSError):
            _link_no_clobber(aside, target)  # put the other file back where it was
        raise OutputClashError(
            f"{target}: the file was replaced by another process while this run worked; it was left as it is"
        )
    try:
        _link_no_clobber(tmp, target)
    except FileExistsError:
        raise _appeared(target) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            aside.unlink()  # the old version we meant to replace


def remove_stale_temporaries(folder: str | os.PathLike[str], *, older_than_s: float = STALE_AFTER_S) -> int:
    """Delete temporary files of :func:`atomic_write` in ``folder`` that a killed process left.

    Only files named like ours (``.NAME.RANDOM.tmpSUFFIX``,
    ``.NAME.RANDOM.tmp.old``, ``.NAME.RANDOM.part``) and not modified for ``older_than_s`` seconds
    are removed, so a write in progress in another process is never touched.
    Sub-folders are not visited. Returns the number of files removed.
    """
    removed = 0
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        if not _TEMPORARY.fullmatch(entry.name):
            continue
        try:
            if not entry.is_file(follow_symlinks=False) or now - entry.stat(follow_symlinks=False).st_mtime < older_than_s:
                continue
            os.unlink(entry.path)
            removed += 1
        except OSError:
            continue
    return removed
