"""Backbones that satisfy the :class:`~gfm.models.encoders.base.Encoder` contract."""

from gfm.models.encoders.base import Encoder
from gfm.models.encoders.densenet import DenseNet121Encoder, densenet121_encoder
from gfm.models.encoders.resnet import (
    ResNet2BEncoder,
    ResNetEncoder,
    resnet34_2b_encoder,
    resnet34_encoder,
    resnet101_encoder,
    tiny_encoder,
)

__all__ = [
    "DenseNet121Encoder",
    "Encoder",
    "ResNet2BEncoder",
    "ResNetEncoder",
    "densenet121_encoder",
    "resnet101_encoder",
    "resnet34_2b_encoder",
    "resnet34_encoder",
    "tiny_encoder",
]
