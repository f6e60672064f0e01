"""Released weights as data, a verified local cache, and downloads.

Example::

    from gfm.hub import download_weights, weights_path, get_weights
    path = download_weights("gfm-r34-tt")        # once, needs the internet
    path = weights_path("gfm-r34-tt")            # afterwards, offline
    get_weights("gfm-r34-tt").normalization      # RAW_255: the net takes 0..255 RGB

The cache is ``$GFM_HOME/weights`` (default: the platform's user cache
folder, e.g. ``~/.cache/gfm/weights``).
"""

from gfm.hub.cache import (
    KNOWN_HASHES_FILE,
    gfm_home,
    sha256_file,
    weights_dir,
    weights_path,
)
from gfm.hub.download import (
    ValidateCheckpoint,
    download_weights,
    import_weights,
    resolve_urls,
)
from gfm.hub.registry import (
    BACKBONES,
    DEFAULT_WEIGHTS,
    RAW_255,
    ROSTAS,
    WeightsEntry,
    get_weights,
    list_weights,
    register_weights,
    unregister_weights,
)
from gfm.models.normalization import IMAGENET

__all__ = [
    "BACKBONES",
    "DEFAULT_WEIGHTS",
    "IMAGENET",
    "KNOWN_HASHES_FILE",
    "RAW_255",
    "ROSTAS",
    "ValidateCheckpoint",
    "WeightsEntry",
    "download_weights",
    "get_weights",
    "gfm_home",
    "import_weights",
    "list_weights",
    "register_weights",
    "resolve_urls",
    "sha256_file",
    "unregister_weights",
    "weights_dir",
    "weights_path",
]
