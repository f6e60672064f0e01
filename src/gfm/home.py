"""gfm's folder in the user's cache (weights, compiled code, ...): importable without PyTorch."""

from __future__ import annotations

import os
from pathlib import Path

ENV_HOME = "GFM_HOME"


def gfm_home() -> Path:
    """The cache root: ``$GFM_HOME`` if set, else the platform's user cache folder."""
    value = os.environ.get(ENV_HOME)
    if value:
        return Path(value).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("gfm"))


__all__ = ["ENV_HOME", "gfm_home"]
