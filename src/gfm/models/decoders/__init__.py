"""Glance and focus decoders, built from the encoder contract."""

from gfm.models.decoders.focus import FocusDecoder
from gfm.models.decoders.glance import GlanceDecoder
from gfm.models.decoders.plan import DecoderLayout

__all__ = ["DecoderLayout", "FocusDecoder", "GlanceDecoder"]
