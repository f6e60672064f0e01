"""Where numba keeps the machine code it compiles for gfm (and pymatting): the user's cache folder.

numba's ``cache=True`` writes next to the source, in the package's own
``__pycache__``; from a read-only site-packages (a system install, a container
image) that fails, and code compiled by one installation would sit inside
another's files. gfm points numba at ``$GFM_HOME/numba`` instead (default:
the platform's user cache folder, e.g. ``~/.cache/gfm/numba``), before any
function of gfm or pymatting is compiled. ``NUMBA_CACHE_DIR``, when set, wins.

Call :func:`use_user_cache` before importing a module that defines cached
numba functions (their cache is located when they are defined).
"""

from __future__ import annotations

import os
from pathlib import Path

#: The sub-folder of ``$GFM_HOME`` that holds numba's cache.
NUMBA_SUBDIR = "numba"


def numba_cache_dir() -> Path:
    """The folder numba caches gfm's compiled functions in: ``$NUMBA_CACHE_DIR`` if set,
    else ``$GFM_HOME/numba``."""
    given = os.environ.get("NUMBA_CACHE_DIR")
    if given:
        return Path(given)
    from gfm.home import gfm_home

    return gfm_home() / NUMBA_SUBDIR


def use_user_cache() -> Path:
    """Point numba's cache at :func:`numba_cache_dir` (idempotent); returns the folder.

    Imports numba. Functions defined before this call keep their cache location.
    """
    folder = numba_cache_dir()
    # The environment variable survives numba's re-reading of its configuration (the compiler
    # does that whenever a NUMBA_* variable changed); the attribute takes effect at once.
    os.environ.setdefault("NUMBA_CACHE_DIR", str(folder))
    import numba.core.config as config

    if not config.CACHE_DIR:
        config.CACHE_DIR = str(folder)
    return Path(config.CACHE_DIR)


__all__ = ["NUMBA_SUBDIR", "numba_cache_dir", "use_user_cache"]
