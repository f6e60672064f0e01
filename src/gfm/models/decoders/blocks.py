"""Building blocks shared by the glance and focus decoders.

Module indices inside each ``nn.Sequential`` follow the released network
(convolutions at 0, 3, 6; batch norms at 1, 4, 7), so released checkpoints
map onto them by renaming the prefix only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _conv_bn_relu(in_ch: int, out_ch: int, dilation: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(in_ch, out_ch, 3, padding=dilation, dilation=dilation),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    ]


def upsample(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize with ``align_corners=False`` (the released ``nn.Upsample``)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class DecoderBlock(nn.Sequential):
    """Three 3x3 convolutions, then 2x bilinear up-sampling if ``scale`` > 1.

    ``(B, in_ch, h, w) -> (B, out_ch, h * scale, w * scale)``. Every convolution
    is followed by BN + ReLU except the last one of a head (``head=True``),
    which outputs raw scores.
    """

    def __init__(self, in_ch: int, width: int, mid: int, out_ch: int, scale: int, head: bool = False) -> None:
        layers = _conv_bn_relu(in_ch, width) + _conv_bn_relu(width, mid)
        layers += [nn.Conv2d(mid, out_ch, 3, padding=1)] if head else _conv_bn_relu(mid, out_ch)
        super().__init__(*layers)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        x = super().forward(x)
        if self.scale > 1:
            x = upsample(x, (x.shape[-2] * self.scale, x.shape[-1] * self.scale))
        return x


class ConvHead(nn.Sequential):
    """A single 3x3 convolution to the output channels (used when the finest
    stage is already at full resolution, as in the r2b backbone)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__(nn.Conv2d(in_ch, out_ch, 3, padding=1))
        self.scale = 1


class PyramidPooling(nn.Module):
    """Pyramid pooling module (PSPNet): global context for the glance decoder.

    Adaptive average pools to ``s x s`` for each size, a 1x1 conv (no bias)
    each, bilinear up-sampling back with ``align_corners=True``, concatenated
    with the input, a 1x1 conv back to ``channels`` and a ReLU.
    ``(B, C, h, w) -> (B, C, h, w)``.
    """

    def __init__(self, channels: int, pool_sizes: tuple[int, ...] = (1, 3, 5)) -> None:
        super().__init__()
        self.stages = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(size), nn.Conv2d(channels, channels, 1, bias=False)) for size in pool_sizes
        )
        self.bottleneck = nn.Conv2d(channels * (len(pool_sizes) + 1), channels, 1)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        priors = [F.interpolate(stage(x), size=size, mode="bilinear", align_corners=True) for stage in self.stages]
        return self.relu(self.bottleneck(torch.cat([*priors, x], 1)))


class PyramidBranch(nn.Sequential):
    """Carries the pyramid-pooling output to one decoder stage:
    3x3 conv + BN + ReLU, then bilinear up-sampling to that stage's size."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__(*_conv_bn_relu(in_ch, out_ch))

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:  # type: ignore[override]
        return upsample(super().forward(x), size)


class BridgeBlock(nn.Sequential):
    """Three dilated (rate 2) 3x3 conv + BN + ReLU: local context for the focus decoder."""

    def __init__(self, channels: int) -> None:
        layers: list[nn.Module] = []
        for _ in range(3):
            layers += _conv_bn_relu(channels, channels, dilation=2)
        super().__init__(*layers)
