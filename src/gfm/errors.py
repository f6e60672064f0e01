"""User-facing errors.

Every problem a user can fix (a missing file, a wrong checkpoint, a bad size)
raises a subclass of :class:`GFMError` whose message says what was wrong and
what to do. The command line prints that message on one line and exits
non-zero; library users can catch the specific class.
"""

from __future__ import annotations

import errno


class GFMError(Exception):
    """Base class of every error the user can act on."""


class CheckpointError(GFMError):
    """A checkpoint file is missing, unreadable, unsafe or of another variant."""


class InputError(GFMError):
    """An input tensor, image or file is not what the function needs."""


class ImageTooLargeError(InputError):
    """An image has more pixels than the limit in force (read from its header, before decoding)."""


class ConfigError(GFMError):
    """A configuration value is unknown, of the wrong type or inconsistent."""


class WeightsNotFoundError(CheckpointError):
    """Released weights are not in the local cache (and were not downloaded)."""


class OutputError(GFMError):
    """An output file cannot be written (folder not writable, disk full, bad suffix)."""


class OutputClashError(OutputError):
    """The final rename found a file it was not meant to replace (another run wrote it meanwhile)."""


# What to do about the operating-system errors a user can meet, by errno.
_OS_ERROR_ADVICE = {
    errno.ENOSPC: "the disk is full: free some space or write somewhere else",
    errno.EDQUOT: "the disk quota is exceeded: free some space or write somewhere else",
    errno.EROFS: "the file system is read-only: write somewhere else",
    errno.EACCES: "permission denied: check the permissions, or use another path",
    errno.EPERM: "operation not permitted: check the permissions, or use another path",
    errno.EEXIST: "it already exists: remove it or choose another path",
    errno.ENOENT: "no such file or folder: check the path",
    errno.ENOTDIR: "a part of the path is a file, not a folder: check the path",
    errno.EISDIR: "it is a folder where a file was expected: check the path",
}


def describe_os_error(error: OSError) -> str:
    """One line for an operating-system error: the path(s), what happened, what to do."""
    where = " -> ".join(str(name) for name in (error.filename, error.filename2) if name is not None)
    advice = _OS_ERROR_ADVICE.get(error.errno or -1, error.strerror or str(error))
    return f"{where}: {advice}" if where else advice
