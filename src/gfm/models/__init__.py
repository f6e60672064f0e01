"""The GFM network: encoders, decoders, fusion, registry and checkpoints."""

from gfm.models.checkpoint import CheckpointMeta, load_model, load_weights, save_checkpoint
from gfm.models.gfm import GFM, GFMOutput, ModelConfig
from gfm.models.registry import create_model, list_backbones, list_models, register_backbone

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
