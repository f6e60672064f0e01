"""Why a path cannot be read as an image file: a broken link, a FIFO, a device.

Messages shared by every reader (:mod:`gfm.io.images`, :mod:`gfm.io.hints`) and by
``gfm matte``'s input discovery, so that ``/dev/zero`` or a named pipe is called
what it is rather than "no such file" or "empty".
"""

from __future__ import annotations

import os
from pathlib import Path


def broken_link_message(path: str | os.PathLike[str]) -> str | None:
    """Why the symbolic link ``path`` cannot be read (dangling, a loop), or ``None`` if it is not a broken link."""
    import errno

    path = Path(path)
    if not path.is_symlink():
        return None
    try:
        os.stat(path)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return f"{path}: symbolic link loop; fix or remove the link"
        return f"{path}: broken symbolic link (it points to {os.readlink(path)}, which does not exist)"
    return None


def special_file_message(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot be read as an image file when it is a FIFO or a device
    (``/dev/zero``, a named pipe), or ``None`` for anything else."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a special file"
    return f"{path}: is {kind}, not a regular file; give an image file"


__all__ = ["broken_link_message", "special_file_message"]
