"""Glance and Focus Matting (GFM): end-to-end image matting.

Public API (a tour: docs/python.md)::

    import gfm
    cutout = gfm.remove("photo.jpg")               # RGBA cutout (PIL image) with the default model (gfm-lite)
    model = gfm.create_model("r34", "TT")          # the paper's network, any variant
    meta = gfm.load_weights(model, "gfm_r34_tt.pth")  # released or our own checkpoint
    model = gfm.load_model("gfm_r34_tt.pth")       # the right variant from the file alone

Attributes are imported lazily so that ``gfm --help`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gfm._version import __version__

_LAZY = {
    "create_model": "gfm.models.registry",
    "list_models": "gfm.models.registry",
    "list_backbones": "gfm.models.registry",
    "load_weights": "gfm.models.checkpoint",
    "load_model": "gfm.models.checkpoint",
    "save_checkpoint": "gfm.models.checkpoint",
    "GFM": "gfm.models.gfm",
    "GFMOutput": "gfm.models.gfm",
    "ModelConfig": "gfm.models.gfm",
    "remove": "gfm.inference.remove",
}

if TYPE_CHECKING:
    from gfm.models.checkpoint import load_model, load_weights, save_checkpoint
    from gfm.models.gfm import GFM, GFMOutput, ModelConfig
    from gfm.inference.remove import remove
    from gfm.models.registry import create_model, list_backbones, list_models

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gfm' has no attribute {name!r}")
