"""The glance decoder (GD): semantics with a large receptive field.

A pyramid pooling module (PPM) on the deepest encoder feature feeds the first
block and, through one :class:`PyramidBranch` a stage, every later block
(concatenated, as the released network does). The head outputs raw class
scores: 3 channels for TT (background, transition, foreground), 2 for FT / BT.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from gfm.models.decoders.blocks import ConvHead, DecoderBlock, PyramidBranch, PyramidPooling
from gfm.models.decoders.plan import DecoderLayout

PPMMode = Literal["full", "single", "none"]


class GlanceDecoder(nn.Module):
    """Glance decoder assembled from a :class:`DecoderLayout`.

    Args:
        layout: widths and strides from the encoder contract.
        head_channels: output channels of each head, e.g. ``{"TT": 3}`` or, for
            RIM, ``{"TT": 3, "FT": 2, "BT": 2}``.
        ppm: ``"full"`` (the paper: PPM into every block), ``"single"`` (PPM
            into the first block only) or ``"none"`` (no PPM; ablations of Table 4).
        pool_sizes: PPM pooling grid sizes.
    """

    def __init__(
        self,
        layout: DecoderLayout,
        head_channels: dict[str, int],
        ppm: PPMMode = "full",
        pool_sizes: tuple[int, ...] = (1, 3, 5),
    ) -> None:
        super().__init__()
        if ppm not in ("full", "single", "none"):
            raise ValueError(f"ppm must be 'full', 'single' or 'none', got {ppm!r}")
        self.layout = layout
        self.ppm_mode = ppm
        deep = layout.deepest
        deep_ch = layout.encoder_channels[deep]
        self.ppm = PyramidPooling(deep_ch, pool_sizes) if ppm != "none" else None
        self.branches = nn.ModuleDict()  # key k: the PPM branch feeding block k
        self.blocks = nn.ModuleDict()
        for k in layout.block_stages:
            if k == deep:
                in_ch = deep_ch * 2 if self.ppm is not None else deep_ch
            else:
                in_ch = layout.widths[k] * (2 if ppm == "full" else 1)
                if ppm == "full":
                    self.branches[str(k)] = PyramidBranch(deep_ch, layout.widths[k])
            self.blocks[str(k)] = DecoderBlock(in_ch, layout.widths[k], layout.mid_widths[k], layout.out_width(k), layout.scale(k))
        self.heads = nn.ModuleDict()
        if layout.separate_head:
            for name, channels in head_channels.items():
                self.heads[name] = ConvHead(layout.widths[0], channels)
        else:
            if ppm == "full":
                self.branches["0"] = PyramidBranch(deep_ch, layout.widths[0])
            in_ch = layout.widths[0] * (2 if ppm == "full" else 1)
            for name, channels in head_channels.items():
                self.heads[name] = DecoderBlock(in_ch, layout.widths[0], layout.mid_widths[0], channels, layout.scale(0), head=True)

    def _with_branch(self, stage: int, context: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
        branch = self.branches[str(stage)] if str(stage) in self.branches else None
        if branch is None or context is None:
            return x
        return torch.cat([branch(context, x.shape[-2:]), x], 1)

    def forward(self, features: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """``features`` from the encoder -> ``{head name: (B, classes, H, W) logits}``."""
        deep = features[self.layout.deepest]
        context = self.ppm(deep) if self.ppm is not None else None
        x = torch.cat([context, deep], 1) if context is not None else deep
        for k, block in self.blocks.items():
            if int(k) != self.layout.deepest:
                x = self._with_branch(int(k), context if self.ppm_mode == "full" else None, x)
            x = block(x)
        if not self.layout.separate_head:
            x = self._with_branch(0, context if self.ppm_mode == "full" else None, x)
        return {name: head(x) for name, head in self.heads.items()}
