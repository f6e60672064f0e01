"""Turning ``--model NAME|PATH`` into a loaded network."""

from __future__ import annotations

from pathlib import Path

from gfm.errors import CheckpointError
from gfm.models.checkpoint import load_model
from gfm.models.gfm import GFM

DEFAULT_MODEL = "gfm-r34-tt"
DEFAULT_ENSEMBLE = ("gfm-r34-tt", "gfm-r34-ft", "gfm-r34-bt")


def load_model_spec(spec: str, rosta: str | None = None) -> GFM:
    """Load a model from a checkpoint path or a registered weights name.

    Args:
        spec: a file path (ours or released) or a name from ``gfm weights list``.
        rosta: settles released FT/BT files (their shapes are identical).

    Raises:
        CheckpointError: missing file, unknown name, weights not downloaded
            (the message says where to get them and how to import them).
    """
    path = Path(spec)
    if path.exists():
        return load_model(path, rosta=rosta)
    if path.suffix or "/" in spec or "\\" in spec:
        raise CheckpointError(f"{spec}: no such checkpoint file")
    from gfm.hub import get_weights, weights_path

    entry = get_weights(spec)
    return load_model(weights_path(spec), rosta=rosta or entry.rosta)
