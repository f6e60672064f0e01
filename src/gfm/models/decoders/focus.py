"""The focus decoder (FD): details in the transition area.

A bridge block of dilated convolutions on the deepest feature, concatenated
with it, then U-Net blocks that each take the previous output concatenated
with the encoder feature of the same resolution. The head ends in a sigmoid:
``(B, 1, H, W)`` in [0, 1].
"""

from __future__ import annotations

import torch
from torch import nn

from gfm.models.decoders.blocks import BridgeBlock, ConvHead, DecoderBlock
from gfm.models.decoders.plan import DecoderLayout
from gfm.models.decoders.regions import apply_where_needed


class FocusDecoder(nn.Module):
    """Focus decoder assembled from a :class:`DecoderLayout`.

    Args:
        layout: widths and strides from the encoder contract.
        heads: names of the one-channel heads (``["TT"]``, or TT/FT/BT for RIM).
        bridge: use the bridge block (``False``: the "no BB" ablation).
    """

    def __init__(self, layout: DecoderLayout, heads: list[str], bridge: bool = True) -> None:
        super().__init__()
        self.layout = layout
        channels = layout.encoder_channels
        deep = layout.deepest
        self.bridge = BridgeBlock(channels[deep]) if bridge else None
        self.blocks = nn.ModuleDict()
        for k in layout.block_stages:
            if k == deep:
                in_ch = channels[deep] * (2 if bridge else 1)
            else:
                in_ch = layout.widths[k] + channels[k]
            self.blocks[str(k)] = DecoderBlock(in_ch, layout.widths[k], layout.mid_widths[k], layout.out_width(k), layout.scale(k))
        self.heads = nn.ModuleDict()
        for name in heads:
            if layout.separate_head:
                self.heads[name] = ConvHead(layout.widths[0], 1)
            else:
                in_ch = layout.widths[0] + channels[0]
                self.heads[name] = DecoderBlock(in_ch, layout.widths[0], layout.mid_widths[0], 1, layout.scale(0), head=True)

    def forward(self, features: list[torch.Tensor], needed: torch.Tensor | None = None, everywhere: bool = False) -> dict[str, torch.Tensor]:
        """``features`` from the encoder -> ``{head name: (B, 1, H, W) in [0, 1]}``.

        ``needed``: optional ``(H, W)`` bool mask of the output pixels that will
        be used (e.g. the glance transition area). The heads, the most costly
        block, then run only around those pixels (same values there); other
        pixels hold either their value or 0.5 (not computed).

        ``everywhere``: with ``needed``, compute the other pixels too (the heads
        run densely as well), keeping at the needed pixels the bits of the
        sparse run: what guided matting needs to reproduce a sparse prediction
        and still read any pixel.
        """
        deep = features[self.layout.deepest]
        x = torch.cat([self.bridge(deep), deep], 1) if self.bridge is not None else deep
        for k, block in self.blocks.items():
            if int(k) != self.layout.deepest:
                x = torch.cat([x, features[int(k)]], 1)
            x = block(x)
        if not self.layout.separate_head:
            x = torch.cat([x, features[0]], 1)
        if needed is None:
            return {name: torch.sigmoid(head(x)) for name, head in self.heads.items()}
        outputs = {}
        for name, head in self.heads.items():
            scale = head.scale
            reach = sum((m.kernel_size[0] // 2) * m.dilation[0] for m in head.modules() if isinstance(m, nn.Conv2d))
            halo = reach + (1 if scale > 1 else 0)  # the convolutions' reach, then the bilinear taps
            sparse = apply_where_needed(head, x, needed, halo=halo, scale=scale, out_channels=1)
            if everywhere:
                sparse = torch.where(needed.to(sparse.device), sparse, head(x))
            outputs[name] = torch.sigmoid(sparse)
        return outputs
