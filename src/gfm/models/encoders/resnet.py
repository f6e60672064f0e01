"""ResNet encoders with torchvision parameter names.

``r34`` and ``r101`` follow torchvision's ResNet-34/101 exactly
(``conv1``, ``bn1``, ``layer1`` .. ``layer4``), so an ImageNet checkpoint of
torchvision loads unchanged. ``r34_2b`` is the paper's "r2b" ablation: a new
3x3 stride-1 stem instead of ``conv1``/``maxpool``, then ``layer1`` .. ``layer4``
and two extra stages of max-pooling and three 512-channel basic blocks.
"""

from __future__ import annotations

import torch
from torch import nn

from gfm.models.encoders.base import Encoder, load_backbone_tensors


def _conv3x3(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """torchvision's ``BasicBlock`` (two 3x3 convolutions, identity shortcut)."""

    expansion = 1

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = _conv3x3(in_ch, out_ch, stride)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(out_ch, out_ch)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """torchvision's ``Bottleneck`` (1x1, 3x3 with stride, 1x1 expanding by 4)."""

    expansion = 4

    def __init__(self, in_ch: int, width: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def _make_layer(block: type[BasicBlock] | type[Bottleneck], in_ch: int, width: int, blocks: int, stride: int) -> tuple[nn.Sequential, int]:
    out_ch = width * block.expansion
    downsample = None
    if stride != 1 or in_ch != out_ch:
        downsample = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch))
    layers: list[nn.Module] = [block(in_ch, width, stride, downsample)]
    layers += [block(out_ch, width) for _ in range(1, blocks)]
    return nn.Sequential(*layers), out_ch


def _resnet_layers(module: nn.Module, block: type[BasicBlock] | type[Bottleneck], depths: tuple[int, ...], widths: tuple[int, ...], stem_ch: int) -> tuple[int, ...]:
    """Attach ``layer1`` .. ``layer4`` to ``module``; return their output channels."""
    channels = []
    in_ch = stem_ch
    for index, (depth, width) in enumerate(zip(depths, widths), start=1):
        layer, in_ch = _make_layer(block, in_ch, width, depth, stride=1 if index == 1 else 2)
        setattr(module, f"layer{index}", layer)
        channels.append(in_ch)
    return tuple(channels)


class ResNetEncoder(Encoder):
    """torchvision ResNet as a 5-stage encoder (strides 2, 4, 8, 16, 32).

    Stages: ``conv1+bn1+relu`` (e0), ``maxpool+layer1`` (e1), ``layer2`` (e2),
    ``layer3`` (e3), ``layer4`` (e4).
    """

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        depths: tuple[int, int, int, int],
        widths: tuple[int, int, int, int] = (64, 128, 256, 512),
        stem_channels: int = 64,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, stem_channels, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem_channels)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        layer_channels = _resnet_layers(self, block, depths, widths, stem_channels)
        self.out_channels = (stem_channels, *layer_channels)
        self.strides = (2, 4, 8, 16, 32)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        e0 = self.relu(self.bn1(self.conv1(x)))
        e1 = self.layer1(self.maxpool(e0))
        e2 = self.layer2(e1)
        e3 = self.layer3(e2)
        e4 = self.layer4(e3)
        return [e0, e1, e2, e3, e4]

    def load_backbone_state_dict(self, state_dict: dict[str, torch.Tensor]) -> list[str]:
        return load_backbone_tensors(self, state_dict, not_in_imagenet=())


class ResNet2BEncoder(Encoder):
    """The paper's "r2b" ResNet-34: full-resolution stem and two extra stages.

    Stages: ``stem`` 3x3 conv+BN+ReLU (e0, stride 1), ``layer1`` (e1, 1),
    ``layer2`` (e2, 2), ``layer3`` (e3, 4), ``layer4`` (e4, 8), ``layer5`` and
    ``layer6`` = 2x2 max-pool (ceil) + three 512-channel basic blocks (16, 32).
    """

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(inplace=True))
        layer_channels = _resnet_layers(self, BasicBlock, (3, 4, 6, 3), (64, 128, 256, 512), 64)
        for name in ("layer5", "layer6"):
            setattr(
                self,
                name,
                nn.Sequential(nn.MaxPool2d(2, 2, ceil_mode=True), BasicBlock(512, 512), BasicBlock(512, 512), BasicBlock(512, 512)),
            )
        self.out_channels = (64, *layer_channels, 512, 512)
        self.strides = (1, 1, 2, 4, 8, 16, 32)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = [self.stem(x)]
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4, self.layer5, self.layer6):
            features.append(layer(features[-1]))
        return features

    def load_backbone_state_dict(self, state_dict: dict[str, torch.Tensor]) -> list[str]:
        # The r2b stem replaces conv1/bn1; only layer1..4 come from ImageNet.
        layers = {k: v for k, v in state_dict.items() if k.startswith(("layer1.", "layer2.", "layer3.", "layer4."))}
        unused = load_backbone_tensors(self, layers, not_in_imagenet=("stem.", "layer5.", "layer6."))
        return sorted(unused + [k for k in state_dict if k not in layers])


def resnet34_encoder() -> ResNetEncoder:
    return ResNetEncoder(BasicBlock, (3, 4, 6, 3))


def resnet101_encoder() -> ResNetEncoder:
    return ResNetEncoder(Bottleneck, (3, 4, 23, 3))


def resnet34_2b_encoder() -> ResNet2BEncoder:
    return ResNet2BEncoder()


def tiny_encoder() -> ResNetEncoder:
    """A ResNet with one basic block a stage and 8..64 channels, for fast tests."""
    return ResNetEncoder(BasicBlock, (1, 1, 1, 1), widths=(8, 16, 32, 64), stem_channels=8)
