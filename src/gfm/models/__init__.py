"""The GFM network: encoders, decoders, fusion, registry and checkpoints.

The names below load on first use (PEP 562), so that importing a torch-free
module of this package (:mod:`gfm.models.normalization`, which the weights
registry reads) does not import PyTorch: the ONNX runtime path stays torch-free.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gfm.models.checkpoint import CheckpointMeta, load_model, load_weights, save_checkpoint
    from gfm.models.gfm import GFM, GFMOutput, ModelConfig
    from gfm.models.registry import create_model, list_backbones, list_models, register_backbone

_WHERE = {
    "CheckpointMeta": "gfm.models.checkpoint",
    "load_model": "gfm.models.checkpoint",
    "load_weights": "gfm.models.checkpoint",
    "save_checkpoint": "gfm.models.checkpoint",
    "GFM": "gfm.models.gfm",
    "GFMOutput": "gfm.models.gfm",
    "ModelConfig": "gfm.models.gfm",
    "create_model": "gfm.models.registry",
    "list_backbones": "gfm.models.registry",
    "list_models": "gfm.models.registry",
    "register_backbone": "gfm.models.registry",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'gfm.models' has no attribute {name!r}")


__all__ = [
    "GFM",
    "CheckpointMeta",
    "GFMOutput",
    "ModelConfig",
    "create_model",
    "list_backbones",
    "list_models",
    "load_model",
    "load_weights",
    "register_backbone",
    "save_checkpoint",
]
