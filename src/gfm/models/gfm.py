"""The Glance and Focus Matting network: encode, glance, focus, fuse."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from gfm.errors import InputError
from gfm.models.decoders import DecoderLayout, FocusDecoder, GlanceDecoder
from gfm.models.decoders.glance import PPMMode
from gfm.models.encoders import Encoder
from gfm.models.fusion import ROSTA_CLASSES, RoStaIntegration, collaborative_matting, soft_collaborative_matting

ROSTAS = ("TT", "FT", "BT", "RIM")


@dataclass(frozen=True)
class ModelConfig:
    """Everything that fixes a GFM network's structure.

    Attributes:
        backbone: registered backbone name (``r34``, ``r34_2b``, ``r101``, ``d121``, ``tiny``).
        rosta: ``TT``, ``FT``, ``BT`` or ``RIM`` (all three, integrated).
        single_decoder: one shared decoder instead of GD + FD ("SINGLE" ablation).
        ppm: ``full`` (default), ``single`` (PPM into the first glance block only)
            or ``none``.
        bridge: focus decoder's bridge block (``False``: "no BB" ablation).
    """

    backbone: str
    rosta: str
    single_decoder: bool = False
    ppm: PPMMode = "full"
    bridge: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def name(self) -> str:
        """Short variant name, e.g. ``r34-TT`` (ablations appended)."""
        parts = [f"{self.backbone}-{self.rosta}"]
        if self.single_decoder:
            parts.append("single")
        if self.ppm != "full":
            parts.append(f"ppm_{self.ppm}")
        if not self.bridge:
            parts.append("no_bb")
        return "+".join(parts)


@dataclass
class GFMOutput:
    """Outputs of one GFM forward pass.

    Attributes:
        glance_logits: ``(B, 3 or 2, H, W)`` raw glance scores (the released
            network applies a sigmoid; ``sigmoid(glance_logits)`` equals its output).
        focus: ``(B, 1, H, W)`` focus alpha in [0, 1].
        fusion: ``(B, 1, H, W)`` collaborative-matting alpha in [0, 1]; for RIM
            the integrated alpha, clamped.
        fusion_raw: RIM only: the unclamped RIM output (what the released code returns).
        rosta: RIM only: the TT, FT and BT outputs, each a :class:`GFMOutput`;
            for RIM, ``glance_logits`` and ``focus`` above are TT's.
    """

    glance_logits: torch.Tensor
    focus: torch.Tensor
    fusion: torch.Tensor
    fusion_raw: torch.Tensor | None = None
    rosta: dict[str, GFMOutput] = field(default_factory=dict)

    @property
    def glance_classes(self) -> torch.Tensor:
        """``(B, 1, H, W)`` int64 argmax class of the glance head."""
        return self.glance_logits.argmax(1, keepdim=True)


def check_input(x: torch.Tensor, stride: int) -> None:
    """Raise :class:`InputError` unless ``x`` is ``(B, 3, H, W)`` with H, W multiples of ``stride``."""
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise InputError(f"GFM expects a (B, 3, H, W) tensor, got {shape}")
    if x.shape[1] != 3:
        raise InputError(f"GFM expects 3 colour channels (RGB), got {x.shape[1]}; convert the image to RGB first")
    height, width = x.shape[-2:]
    if height % stride or width % stride:
        pad_h, pad_w = -(-height // stride) * stride, -(-width // stride) * stride
        raise InputError(
            f"input height and width must be multiples of {stride}, got {height}x{width}; "
            f"pad or resize to {pad_h}x{pad_w} (gfm.inference does this for you)"
        )
    if height == 0 or width == 0:
        raise InputError("input has zero size")


class GFM(nn.Module):
    """Glance and Focus Matting network.

    Use :func:`gfm.create_model` rather than this constructor. The forward pass
    takes the tensor as given (no normalisation; the released weights expect
    RGB in 0..255) and returns a :class:`GFMOutput`::

        out = model(x)        # x: (B, 3, H, W) float, H and W multiples of 32
        alpha = out.fusion    # (B, 1, H, W) in [0, 1]
    """

    def __init__(self, encoder: Encoder, layout: DecoderLayout, config: ModelConfig) -> None:
        super().__init__()
        if config.rosta not in ROSTAS:
            raise ValueError(f"rosta must be one of {ROSTAS}, got {config.rosta!r}")
        self.config = config
        self.heads = ["TT", "FT", "BT"] if config.rosta == "RIM" else [config.rosta]
        self.encoder = encoder
        if config.single_decoder:
            # One decoder whose heads output the glance classes plus one focus channel.
            self.decoder = GlanceDecoder(layout, {h: ROSTA_CLASSES[h] + 1 for h in self.heads}, ppm=config.ppm)
        else:
            self.glance = GlanceDecoder(layout, {h: ROSTA_CLASSES[h] for h in self.heads}, ppm=config.ppm)
            self.focus = FocusDecoder(layout, self.heads, bridge=config.bridge)
        self.rim = RoStaIntegration() if config.rosta == "RIM" else None

    @property
    def output_stride(self) -> int:
        return self.encoder.output_stride

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Validate ``x`` and run the shared encoder."""
        check_input(x, self.output_stride)
        return self.encoder(x)

    def predict_glance(self, features: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """Glance logits of each head, ``{rosta: (B, classes, H, W)}``."""
        if self.config.single_decoder:
            return {h: out[:, :-1] for h, out in self.decoder(features).items()}
        return self.glance(features)

    def predict_focus(self, features: list[torch.Tensor], needed: torch.Tensor | None = None, everywhere: bool = False) -> dict[str, torch.Tensor]:
        """Focus alpha of each head, ``{rosta: (B, 1, H, W)}`` in [0, 1].

        ``needed``: optional ``(H, W)`` bool mask of the pixels that will be
        read; the focus heads then run only around them (identical values
        there; elsewhere the value or 0.5). ``everywhere``: compute the other
        pixels as well, the needed ones keeping the sparse run's values (see
        :meth:`FocusDecoder.forward`). Ignored by the single-decoder ablation.
        """
        if self.config.single_decoder:
            return {h: torch.sigmoid(out[:, -1:]) for h, out in self.decoder(features).items()}
        return self.focus(features, needed, everywhere)

    def fuse(self, glance: dict[str, torch.Tensor], focus: dict[str, torch.Tensor], soft: bool = False) -> GFMOutput:
        """Collaborative matting of each head, then RIM when the model has it.

        ``soft=True`` uses :func:`~gfm.models.fusion.soft_collaborative_matting`
        (differentiable in both decoders, for training) instead of the argmax rule.
        """
        rule = soft_collaborative_matting if soft else collaborative_matting
        per_head = {h: GFMOutput(glance[h], focus[h], rule(glance[h], focus[h], h)) for h in self.heads}
        if self.rim is None:
            return per_head[self.heads[0]]
        raw = self.rim(torch.cat([per_head[h].fusion for h in self.heads], 1))
        tt = per_head["TT"]
        return GFMOutput(tt.glance_logits, tt.focus, raw.clamp(0.0, 1.0), fusion_raw=raw, rosta=per_head)

    def forward(self, x: torch.Tensor, soft_fusion: bool = False) -> GFMOutput:
        """Encode, glance, focus, fuse. ``soft_fusion`` for training (see :meth:`fuse`)."""
        features = self.encode(x)
        if self.config.single_decoder:
            outputs = self.decoder(features)
            glance = {h: out[:, :-1] for h, out in outputs.items()}
            focus = {h: torch.sigmoid(out[:, -1:]) for h, out in outputs.items()}
        else:
            glance = self.glance(features)
            focus = self.focus(features)
        return self.fuse(glance, focus, soft=soft_fusion)
