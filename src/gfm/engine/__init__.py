"""Training engine: configuration, the loop, checkpoints, distributed set-up."""

from gfm.engine.config import TrainConfig, build_config, preset, preset_names
from gfm.engine.steps import training_loss
from gfm.engine.trainer import TrainSummary, train

__all__ = ["TrainConfig", "TrainSummary", "build_config", "preset", "preset_names", "train", "training_loss"]
