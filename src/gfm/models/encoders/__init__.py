"""Backbones that satisfy the :class:`~gfm.models.encoders.base.Encoder` contract."""

from gfm.models.encoders.base import Encoder
from gfm.models.encoders.densenet import DenseNet121Encoder, densenet121_encoder
from gfm.models.encoders.efficientnet import (
    EfficientNetLiteEncoder,
    efficientnet_lite0_encoder,
    efficientnet_lite2_encoder,
)
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
    "EfficientNetLiteEncoder",
    "Encoder",
    "ResNet2BEncoder",
    "ResNetEncoder",
    "densenet121_encoder",
    "efficientnet_lite0_encoder",
    "efficientnet_lite2_encoder",
    "resnet101_encoder",
    "resnet34_2b_encoder",
    "resnet34_encoder",
    "tiny_encoder",
]
