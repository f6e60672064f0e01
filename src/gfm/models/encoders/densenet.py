"""DenseNet-121 encoder with torchvision parameter names.

Stages (as in the released GFM): ``conv0+norm0+relu0`` (e0, stride 2; the
ImageNet ``pool0`` is not used), ``denseblock1+transition1`` (e1, 4),
``denseblock2+transition2`` (e2, 8), ``denseblock3+transition3`` (e3, 16) and
``denseblock4`` followed by ``reduce``: 3x3 conv 1024->512 + BN + ReLU + 2x2
max-pool with ceil (e4, 32), the paper's channel reduction.
"""

from __future__ import annotations

import re
from collections import OrderedDict

import torch
from torch import nn

from gfm.models.encoders.base import Encoder, load_backbone_tensors

GROWTH_RATE = 32
BOTTLENECK_SIZE = 4
BLOCK_CONFIG = (6, 12, 24, 16)

# torchvision < 0.4 saved DenseNet keys as "denselayer1.norm.1.weight";
# current names are "denselayer1.norm1.weight".
_OLD_DENSENET_KEY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$")


def upgrade_densenet_keys(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename torchvision's old-style DenseNet keys (``norm.1`` -> ``norm1``)."""
    upgraded = {}
    for key, value in state_dict.items():
        match = _OLD_DENSENET_KEY.match(key)
        upgraded[match.group(1) + match.group(2) if match else key] = value
    return upgraded


class _DenseLayer(nn.Module):
    def __init__(self, in_ch: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_ch)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_ch, BOTTLENECK_SIZE * GROWTH_RATE, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(BOTTLENECK_SIZE * GROWTH_RATE)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(BOTTLENECK_SIZE * GROWTH_RATE, GROWTH_RATE, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(self.relu1(self.norm1(x)))
        return self.conv2(self.relu2(self.norm2(out)))


class _DenseBlock(nn.ModuleDict):
    def __init__(self, num_layers: int, in_ch: int) -> None:
        super().__init__()
        for i in range(num_layers):
            self[f"denselayer{i + 1}"] = _DenseLayer(in_ch + i * GROWTH_RATE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)


class _Transition(nn.Sequential):
    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(in_ch)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(in_ch, out_ch, 1, bias=False)
        self.pool = nn.AvgPool2d(2, stride=2)


class DenseNet121Encoder(Encoder):
    """DenseNet-121 as a 5-stage encoder with channels (64, 128, 256, 512, 512)."""

    def __init__(self) -> None:
        super().__init__()
        modules: OrderedDict[str, nn.Module] = OrderedDict(
            conv0=nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False),
            norm0=nn.BatchNorm2d(64),
            relu0=nn.ReLU(inplace=True),
        )
        channels = 64
        stage_channels = [64]
        for i, num_layers in enumerate(BLOCK_CONFIG, start=1):
            modules[f"denseblock{i}"] = _DenseBlock(num_layers, channels)
            channels += num_layers * GROWTH_RATE
            if i < len(BLOCK_CONFIG):
                modules[f"transition{i}"] = _Transition(channels, channels // 2)
                channels //= 2
                stage_channels.append(channels)
        self.features = nn.Sequential(modules)
        self.reduce = nn.Sequential(
            nn.Conv2d(channels, 512, 3, padding=1),
            nn.BatchNorm2d(512),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2, 2, ceil_mode=True),
        )
        self.out_channels = (*stage_channels, 512)
        self.strides = (2, 4, 8, 16, 32)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        f = self.features
        e0 = f.relu0(f.norm0(f.conv0(x)))
        e1 = f.transition1(f.denseblock1(e0))
        e2 = f.transition2(f.denseblock2(e1))
        e3 = f.transition3(f.denseblock3(e2))
        e4 = self.reduce(f.denseblock4(e3))
        return [e0, e1, e2, e3, e4]

    def load_backbone_state_dict(self, state_dict: dict[str, torch.Tensor]) -> list[str]:
        return load_backbone_tensors(self, upgrade_densenet_keys(state_dict), not_in_imagenet=("reduce.",))


def densenet121_encoder() -> DenseNet121Encoder:
    return DenseNet121Encoder()
