"""Inference: strategies, the predictor, guided matting, foreground colours and composites.

Attributes are imported lazily, so that light modules of this package (batch
file handling used by the command line) do not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "DEFAULT_MAX_PIXELS": "gfm.inference.predictor",
    "GuidedPredictor": "gfm.inference.guided",
    "NetworkMaps": "gfm.inference.guided",
    "MattingResult": "gfm.inference.predictor",
    "Predictor": "gfm.inference.predictor",
    "OnnxPredictor": "gfm.inference.onnx_runtime",
    "STRATEGIES": "gfm.inference.strategies",
    "Strategy": "gfm.inference.strategies",
    "get_strategy": "gfm.inference.strategies",
    "composite": "gfm.inference.foreground",
    "cutout": "gfm.inference.foreground",
    "estimate_foreground": "gfm.inference.foreground",
    "preview": "gfm.inference.foreground",
    "load_model_spec": "gfm.inference.models",
    "default_model_name": "gfm.inference.models",
}

if TYPE_CHECKING:
    from gfm.inference.foreground import composite, cutout, estimate_foreground, preview
    from gfm.inference.guided import GuidedPredictor, NetworkMaps
    from gfm.inference.predictor import DEFAULT_MAX_PIXELS, MattingResult, Predictor
    from gfm.inference.models import default_model_name, load_model_spec
    from gfm.inference.onnx_runtime import OnnxPredictor
    from gfm.inference.strategies import STRATEGIES, Strategy, get_strategy

# No ``remove`` here: the one call is ``gfm.remove``. In this package the name belongs to
# the module gfm.inference.remove, which replaces any attribute of that name once imported.
__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gfm.inference' has no attribute {name!r}")
