"""Running a local block only where its output is needed.

The focus decoder's last block works at half the input resolution and costs
about a quarter of a hybrid pass, yet the fusion reads its output only in the
glance decoder's transition area (typically 10-20 % of a photo). Its three
3x3 convolutions and the final 2x bilinear up-sampling see only a few pixels
around each output pixel, so computing it on crops that carry that halo
gives the same numbers as computing it everywhere: zero padding and the
up-sampling's edge clamping coincide at the map's true borders because
crops are clipped there, and nowhere else does a crop edge reach a kept pixel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

BAND_ROWS = 32  # rows of the block's input per crop: big enough for efficient convolutions


def needed_inputs(needed: torch.Tensor, scale: int) -> torch.Tensor:
    """``(H, W)`` bool of needed output pixels -> ``(H / scale, W / scale)`` bool of
    the input pixels whose output cell holds at least one of them."""
    if scale == 1:
        return needed
    return F.max_pool2d(needed[None, None].float(), scale)[0, 0] > 0


def apply_where_needed(block: nn.Module, x: torch.Tensor, needed: torch.Tensor, *, halo: int, scale: int, out_channels: int) -> torch.Tensor:
    """``block(x)`` at the pixels of ``needed``; elsewhere ``block(x)`` or 0.

    Args:
        block: a local operator: output pixel ``p`` depends only on the input
            pixels within ``halo`` of ``p / scale``; ``(B, C, h, w) -> (B,
            out_channels, h * scale, w * scale)`` for any ``h, w``.
        x: ``(B, C, h, w)`` input.
        needed: ``(h * scale, w * scale)`` bool, the output pixels wanted.
        halo: input pixels of context each crop carries on every side.
        scale: output / input size ratio.
        out_channels: channels of the block's output.

    Returns:
        ``(B, out_channels, h * scale, w * scale)``: equal to ``block(x)`` (up to
        float summation order) wherever ``needed`` is true; the rest of each
        computed band holds ``block(x)`` too, pixels outside every band 0.
    """
    batch, _, height, width = x.shape
    if tuple(needed.shape) != (height * scale, width * scale):
        raise ValueError(f"needed mask {tuple(needed.shape)} does not match the output size {(height * scale, width * scale)}")
    out = x.new_zeros((batch, out_channels, height * scale, width * scale))
    wanted = needed_inputs(needed.to(x.device), scale)
    rows_with_work = wanted.any(1).nonzero().flatten().tolist()
    if not rows_with_work:
        return out
    for top in range(rows_with_work[0] - rows_with_work[0] % BAND_ROWS, rows_with_work[-1] + 1, BAND_ROWS):
        bottom = min(top + BAND_ROWS, height)
        used = wanted[top:bottom].any(0).nonzero().flatten()
        if used.numel() == 0:
            continue
        left, right = int(used[0]), int(used[-1]) + 1
        y0, y1 = max(0, top - halo), min(height, bottom + halo)
        x0, x1 = max(0, left - halo), min(width, right + halo)
        result = block(x[:, :, y0:y1, x0:x1])
        ty, tx = (top - y0) * scale, (left - x0) * scale
        out[:, :, top * scale : bottom * scale, left * scale : right * scale] = result[
            :, :, ty : ty + (bottom - top) * scale, tx : tx + (right - left) * scale
        ]
    return out
