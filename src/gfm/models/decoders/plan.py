"""How a decoder is laid out, derived from the encoder contract.

Both decoders walk the encoder's stages from the deepest (index ``n - 1``) to
the finest. Block ``k`` works at stage ``k``'s resolution, takes the previous
block's output together with that stage's skip feature, and up-samples to the
next finer stage's stride. When the finest stage is already at full
resolution (stride 1, as in the r2b backbone) the last block does not
up-sample and a single-convolution head follows; otherwise the finest block
is itself the head and up-samples to full resolution.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DecoderLayout:
    """Widths of a GFM decoder.

    Attributes:
        encoder_channels: channels of the encoder stages, fine to coarse.
        strides: stride of each encoder stage.
        widths: width of the feature entering each stage's block (the previous
            block's output); ``widths[-1]`` is the pyramid-pooling / bridge width.
        mid_widths: output width of each block's second convolution.
    """

    encoder_channels: tuple[int, ...]
    strides: tuple[int, ...]
    widths: tuple[int, ...]
    mid_widths: tuple[int, ...]

    @property
    def deepest(self) -> int:
        return len(self.encoder_channels) - 1

    @property
    def separate_head(self) -> bool:
        """The finest stage is at full resolution: blocks stop at stage 1, a conv head follows."""
        return self.strides[0] == 1

    @property
    def block_stages(self) -> range:
        """Stages with a full block, deepest first; stage 0 always holds the head."""
        return range(self.deepest, 0, -1)

    def scale(self, stage: int) -> int:
        """Up-sampling factor of block ``stage`` (to the next finer stride, or 1 at stage 0)."""
        finer = self.strides[stage - 1] if stage > 0 else 1
        return self.strides[stage] // finer

    def out_width(self, stage: int) -> int:
        return self.widths[stage - 1]
