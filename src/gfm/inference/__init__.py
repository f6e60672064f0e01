"""Inference: strategies, the predictor, foreground colours and composites."""

from gfm.inference.foreground import composite, cutout, estimate_foreground, preview
from gfm.inference.predictor import DEFAULT_MAX_PIXELS, MattingResult, Predictor
from gfm.inference.strategies import STRATEGIES, Strategy, get_strategy

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "STRATEGIES",
    "MattingResult",
    "Predictor",
    "Strategy",
    "composite",
    "cutout",
    "estimate_foreground",
    "get_strategy",
    "preview",
]
