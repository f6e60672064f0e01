"""Turning ``--model NAME|PATH`` into a loaded network."""

from __future__ import annotations

import os
from pathlib import Path

from gfm.errors import CheckpointError, WeightsNotFoundError
from gfm.hub.registry import DEFAULT_WEIGHTS
from gfm.inference.precision import InferenceDefaults
from gfm.models.checkpoint import CheckpointMeta, load_model
from gfm.models.gfm import GFM, ModelConfig

DEFAULT_MODEL = DEFAULT_WEIGHTS
"""The model used when none is named: the bundled GFM-Lite (no download)."""
DEFAULT_ENSEMBLE = ("gfm-r34-tt", "gfm-r34-ft", "gfm-r34-bt")


def run_weights(run_dir: Path) -> Path:
    """The weights a ``gfm train`` run folder offers: ``best.pt`` (lowest validation
    SAD), else ``last.pt``."""
    for name in ("best.pt", "last.pt"):
        if (run_dir / name).is_file():
            return run_dir / name
    raise CheckpointError(
        f"{run_dir}: a folder without best.pt or last.pt; give a checkpoint file, or a `gfm train` "
        "run folder (best.pt is written at each validation, last.pt at the end of training)"
    )


def default_model_name() -> str:
    """The weights used when none are named (``gfm matte`` without ``--model``,
    :func:`gfm.remove`, :meth:`Predictor.from_name() <gfm.inference.Predictor.from_name>`,
    ``Predictor()``).

    Every "no model given" path resolves its model here, and only here: it is
    :data:`DEFAULT_MODEL`, i.e. :data:`gfm.hub.registry.DEFAULT_WEIGHTS`.
    """
    return DEFAULT_MODEL


def load_model_spec(
    spec: str | os.PathLike[str] | None = None, rosta: str | None = None, *, download: bool = True, progress: bool = True
) -> GFM:
    """Load a model from a checkpoint path, a training run folder or a registered weights name.

    Example::

        from gfm.inference.models import load_model_spec
        model = load_model_spec()                 # the default weights (bundled GFM-Lite)
        model = load_model_spec("gfm-r34-ft")     # a name from `gfm weights list`
        model = load_model_spec("runs/mine")      # a `gfm train` run folder

    Args:
        spec: a file path (ours or released), a ``gfm train`` output folder
            (its ``best.pt``, else ``last.pt``), a name from ``gfm weights list``,
            or None for :func:`default_model_name` (:data:`DEFAULT_MODEL`, bundled:
            works offline).
        rosta: settles released FT/BT files (their shapes are identical).
        download: fetch registered weights missing from the cache (verified,
            with a progress bar on stderr when ``progress``), as rembg and timm do.

    Registered weights carry their measured :class:`~gfm.inference.precision.InferenceDefaults`
    (``model.inference_defaults``: strategy, whether ``--precision auto`` may use bf16);
    files and run folders get none (hybrid, fp32).

    Raises:
        CheckpointError: missing file, unknown name, an ``.onnx`` file (which
            :class:`~gfm.inference.onnx_runtime.OnnxPredictor` runs), weights not in the
            cache and not downloadable (the message says where to get them and how to import them).
    """
    spec = default_model_name() if spec is None else os.fspath(spec)
    path = Path(spec)
    if path.is_dir():
        return load_model(run_weights(path), rosta=rosta)
    if path.suffix.lower() == ".onnx":  # an exported graph, not PyTorch weights
        raise CheckpointError(f"{spec}: an ONNX file from `gfm export` runs with `gfm matte --model {spec}` "
                              "(or gfm.inference.onnx_runtime.OnnxPredictor); here give the weights it was exported from "
                              "(to evaluate it: gfm matte ... --outputs alpha, then gfm evaluate --pred)")
    if path.exists():
        return load_model(path, rosta=rosta)
    if path.suffix or "/" in spec or "\\" in spec:
        raise CheckpointError(f"{spec}: no such checkpoint file")
    from gfm.hub import get_weights, weights_path

    entry = get_weights(spec)
    if entry.is_guide:
        raise CheckpointError(f"{spec} is a guide (a segmentation model that steers GFM), not GFM weights: "
                              f"give it with --guide {spec} (gfm.remove(..., guide=...)), and GFM weights with --model")
    try:
        path = weights_path(spec)
    except WeightsNotFoundError:
        if not download:
            raise
        from gfm.hub import download_weights

        path = download_weights(spec, progress=progress)
    # `gfm weights import` accepts any file that loads strictly into the entry's variant,
    # including a bare state dict in our layout: the entry then supplies the metadata.
    fallback = CheckpointMeta(ModelConfig(entry.backbone, entry.rosta), entry.normalization, "state_dict", {"weights": entry.name}, 0)
    model = load_model(path, rosta=rosta or entry.rosta, fallback=fallback)
    # What the Predictor uses when no strategy or precision is named: measured per weights.
    model.inference_defaults = InferenceDefaults(strategy=entry.strategy, auto_bf16=entry.auto_bf16, guided_strategy=entry.guided_strategy)
    return model
