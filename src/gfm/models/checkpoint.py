"""GFM checkpoints: recognised, checked against the network, loaded and written.

Two kinds are accepted:

* this project's files: a dict with ``format == "gfm"``, a format version,
  the :class:`~gfm.models.gfm.ModelConfig`, the input normalisation,
  provenance and the ``state_dict``;
* the released GFM checkpoints of every variant (plain state dicts, possibly
  with ``module.`` prefixes, possibly inside a ``.zip`` archive).

Files are read by :mod:`gfm.models.checkpoint_files`, always with
``torch.load(weights_only=True)``: a file holding arbitrary pickled objects is
refused, never executed. The dependency runs one way: this module builds
networks with :mod:`gfm.models.registry`, which never imports it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gfm.errors import CheckpointError
from gfm.models.checkpoint_files import read_checkpoint, unwrap_state_dict
from gfm.models.gfm import GFM, ModelConfig
from gfm.models.normalization import NORMALIZATIONS, RAW_255, Normalization
from gfm.models.official import (
    OfficialVariant,
    convert_official_state_dict,
    detect_official_variant,
    is_official_state_dict,
)
from gfm.models.registry import create_model_from_config

FORMAT = "gfm"
FORMAT_VERSION = 1


@dataclass
class CheckpointMeta:
    """What a checkpoint says about itself.

    Attributes:
        config: the network it fits.
        normalization: how to normalise 0..255 RGB input for these weights.
        source: ``"gfm"`` (our format) or ``"released"`` (the authors' files).
        provenance: free-form facts (training data, run, converted from ...).
        format_version: our format version (0 for released files).
    """

    config: ModelConfig
    normalization: Normalization = RAW_255
    source: str = FORMAT
    provenance: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION


def _detect_own_backbone(state_dict: dict[str, torch.Tensor]) -> str | None:
    keys = set(state_dict)
    if "encoder.features.conv0.weight" in keys:
        return "d121"
    if "encoder.stem.0.weight" in keys:
        return "r34_2b"
    if "encoder.layer1.0.conv3.weight" in keys:
        return "r101"
    conv1 = state_dict.get("encoder.conv1.weight")
    if conv1 is not None:
        return "tiny" if conv1.shape[0] == 8 else "r34"
    return None


def _detect_own_rosta(state_dict: dict[str, torch.Tensor]) -> str | None:
    heads = {k.split(".")[2] for k in state_dict if k.startswith(("glance.heads.", "decoder.heads."))}
    if "rim.0.weight" in state_dict:
        return "RIM"
    return next(iter(heads)) if len(heads) == 1 else None


@dataclass
class ResolvedCheckpoint:
    """A checkpoint turned into our parameter names, with what is known about it."""

    state_dict: dict[str, torch.Tensor]
    meta: CheckpointMeta | None  # None: a bare state dict of unknown variant
    variant: str | None  # e.g. "d121-TT", for error messages


def resolve_checkpoint(
    source: str | os.PathLike[str] | dict[str, Any], rosta: str | None = None, label: str | None = None
) -> ResolvedCheckpoint:
    """Read (if a path) and normalise any supported checkpoint to our names.

    Args:
        source: path, or an object already loaded (our dict or a state dict).
        rosta: ``"FT"`` or ``"BT"`` to settle a released 2-class checkpoint,
            whose shapes cannot tell the two apart.
    """
    if isinstance(source, dict):
        obj, label = source, label or "checkpoint"
    else:
        obj, label = read_checkpoint(source), label or str(source)
        if rosta is None:  # a released FT/BT file's name usually says which it is
            stem = Path(source).stem.lower().replace("-", "_")
            tokens = set(stem.split("_"))
            rosta = "FT" if "ft" in tokens else "BT" if "bt" in tokens else None
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        version = int(obj.get("format_version", 0))
        if version > FORMAT_VERSION:
            raise CheckpointError(f"{label}: written by a newer gfm (format {version}); upgrade gfm to read it")
        try:
            config = ModelConfig(**obj["config"])
            norm = obj.get("normalization")
            normalization = Normalization.from_dict(norm) if isinstance(norm, dict) else NORMALIZATIONS.get(str(norm), RAW_255)
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"{label}: damaged gfm metadata ({error})") from None
        meta = CheckpointMeta(config, normalization, FORMAT, dict(obj.get("provenance") or {}), version)
        return ResolvedCheckpoint(unwrap_state_dict(obj, label), meta, config.name)
    state_dict = unwrap_state_dict(obj, label)
    if is_official_state_dict(state_dict):
        variant: OfficialVariant = detect_official_variant(state_dict)
        resolved_rosta = variant.rosta
        if variant.ambiguous:
            if rosta is None:
                raise CheckpointError(
                    f"{label}: a released {variant.backbone} FT or BT checkpoint (their shapes are identical); "
                    "say which with rosta='FT' or rosta='BT' (command line: --rosta FT|BT)"
                )
            if rosta not in ("FT", "BT"):
                raise CheckpointError(f"{label}: a 2-class (FT or BT) checkpoint cannot be loaded as {rosta}")
            resolved_rosta = rosta
        config = ModelConfig(variant.backbone, resolved_rosta)
        meta = CheckpointMeta(config, RAW_255, "released", {"converted_from": label}, 0)
        converted = convert_official_state_dict(state_dict, variant.backbone, resolved_rosta)
        return ResolvedCheckpoint(converted, meta, f"{variant.backbone}-{variant.rosta}")
    backbone, own_rosta = _detect_own_backbone(state_dict), _detect_own_rosta(state_dict)
    variant_name = f"{backbone}-{own_rosta}" if backbone and own_rosta else None
    return ResolvedCheckpoint(state_dict, None, variant_name)


def _assign(model: GFM, resolved: ResolvedCheckpoint, label: str) -> None:
    own = model.state_dict()
    config = model.config
    if resolved.meta is not None and (resolved.meta.config.backbone, resolved.meta.config.rosta) != (config.backbone, config.rosta):
        meta_config = resolved.meta.config
        hint = []
        if meta_config.backbone != config.backbone:
            hint.append(f"backbone={meta_config.backbone!r}")
        if meta_config.rosta != config.rosta:
            hint.append(f"rosta={meta_config.rosta!r}")
        raise CheckpointError(
            f"{label}: the checkpoint is {resolved.variant} but the model is {config.backbone}-{config.rosta}; "
            f"use {', '.join(hint)} (or gfm.load_model, which builds the right variant)"
        )
    missing = [k for k in own if k not in resolved.state_dict]
    unexpected = [k for k in resolved.state_dict if k not in own]
    wrong_shape = [
        f"{k} {tuple(resolved.state_dict[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in resolved.state_dict and tuple(resolved.state_dict[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or wrong_shape:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing ({', '.join(missing[:4])}{', ...' if len(missing) > 4 else ''})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected ({', '.join(unexpected[:4])}{', ...' if len(unexpected) > 4 else ''})")
        if wrong_shape:
            parts.append(f"{len(wrong_shape)} of another shape ({'; '.join(wrong_shape[:3])})")
        hint = ""
        if resolved.variant and resolved.variant != config.name:
            hint = f"; the checkpoint looks like {resolved.variant}: build that variant or use gfm.load_model"
        raise CheckpointError(f"{label}: does not fit {config.name}: {', '.join(parts)}{hint}")
    if not any(t.is_meta for t in own.values()):
        model.load_state_dict(resolved.state_dict, strict=True)
        return
    # A model built on the meta device (load_model: no random initialisation to
    # throw away) takes the loaded tensors themselves, in its own dtypes, each
    # tensor once (released files can hold one tensor under two names).
    storages: set[int] = set()
    state_dict = {}
    for key, value in resolved.state_dict.items():
        tensor = value.to(own[key].dtype)
        if tensor.numel() and tensor.data_ptr() in storages:
            tensor = tensor.clone()
        storages.add(tensor.data_ptr())
        state_dict[key] = tensor
    model.load_state_dict(state_dict, strict=True, assign=True)


def load_weights(
    model: GFM, source: str | os.PathLike[str] | dict[str, Any], *, rosta: str | None = None
) -> CheckpointMeta:
    """Load a checkpoint into ``model``; every parameter must be assigned.

    Args:
        model: a network from :func:`gfm.create_model`.
        source: a checkpoint path (ours, released, or a ``.zip`` holding one)
            or an already loaded dict / state dict.
        rosta: settles released FT/BT files (otherwise taken from the model).

    Returns:
        The checkpoint's metadata (normalisation, provenance). Released files
        get ``RAW_255`` normalisation.

    Raises:
        CheckpointError: unreadable, unsafe, or of another variant (the
            message names the variant it fits).
    """
    label = "state dict" if isinstance(source, dict) else str(source)
    if rosta is None and model.config.rosta in ("FT", "BT"):
        rosta = model.config.rosta
    resolved = resolve_checkpoint(source, rosta=rosta, label=label)
    _assign(model, resolved, label)
    meta = resolved.meta or CheckpointMeta(model.config, RAW_255, "state_dict", {"loaded_from": label}, 0)
    model.checkpoint_meta = meta  # type: ignore[assignment]
    return meta


def load_model(
    source: str | os.PathLike[str] | dict[str, Any],
    *,
    rosta: str | None = None,
    device: str | torch.device = "cpu",
    fallback: CheckpointMeta | None = None,
) -> GFM:
    """Build the right variant from a checkpoint alone and load it (eval mode).

    The returned model has a ``checkpoint_meta`` attribute
    (:class:`CheckpointMeta`) holding the input normalisation to use.

    Args:
        fallback: the variant and normalisation to assume for a bare state
            dict in our layout (no metadata), e.g. from a weights registry
            entry; without it the variant is recognised from the keys and
            shapes (as for released files) and the input normalisation is
            assumed raw 0..255 RGB, with a warning.

    Raises:
        CheckpointError: unreadable or unsafe file, or a state dict whose
            variant cannot be recognised (the message says what to call).
    """
    label = "state dict" if isinstance(source, dict) else str(source)
    resolved = resolve_checkpoint(source, rosta=rosta, label=label)
    if resolved.meta is None and fallback is not None:
        resolved = ResolvedCheckpoint(resolved.state_dict, fallback, resolved.variant)
    recognised = resolved.meta is None
    if recognised:
        resolved = _recognise_bare_state_dict(resolved, label)
    with torch.device("meta"):  # shapes only: every tensor comes from the file
        model = create_model_from_config(resolved.meta.config)  # type: ignore[union-attr]
    try:
        _assign(model, resolved, label)
    except CheckpointError as error:
        if not recognised:
            raise
        raise CheckpointError(
            f"{error}; the keys say {resolved.variant}, but not with the default options (an ablation: "
            "single_decoder, ppm, bridge?): build it with gfm.create_model(...) and call gfm.load_weights(model, PATH)"
        ) from None
    if recognised:
        import warnings

        warnings.warn(
            f"{label}: a bare state dict ({resolved.variant}) carries no input normalisation; assuming raw 0..255 RGB "
            "like the released weights. A model trained with ImageNet normalisation (gfm train's default) should be "
            "saved with gfm.save_checkpoint(model, PATH, normalization=gfm.hub.IMAGENET) "
            "(command line: gfm convert FILE OUT --normalization imagenet)",
            UserWarning,
            stacklevel=2,
        )
    model.checkpoint_meta = resolved.meta  # type: ignore[assignment]
    return model.to(device).eval()


def _recognise_bare_state_dict(resolved: ResolvedCheckpoint, label: str) -> ResolvedCheckpoint:
    """A bare state dict in our layout (``torch.save(model.state_dict())``): the
    variant from its keys and shapes, as for released files; the input
    normalisation, which such a file does not carry, assumed raw 0..255 RGB
    (as :func:`load_weights` does)."""
    if resolved.variant is None:
        raise CheckpointError(
            f"{label}: a state dict whose variant its keys do not tell (neither a released GFM file nor gfm's "
            "layout); build the model with gfm.create_model(BACKBONE, ROSTA) and call gfm.load_weights(model, PATH)"
        )
    backbone, rosta = resolved.variant.split("-")
    meta = CheckpointMeta(ModelConfig(backbone, rosta), RAW_255, "state_dict", {"loaded_from": label}, 0)
    return ResolvedCheckpoint(resolved.state_dict, meta, resolved.variant)


def save_checkpoint(
    model: GFM,
    path: str | os.PathLike[str],
    *,
    normalization: Normalization = RAW_255,
    provenance: dict[str, Any] | None = None,
    replace: bool = True,
    dtype: torch.dtype | None = None,
) -> Path:
    """Write ``model`` in our format (atomically), with its config and metadata.

    ``replace=False`` never replaces a file at ``path``, even one that appears
    while the model is written (:class:`gfm.errors.OutputClashError`).
    ``dtype`` (e.g. ``torch.float16``) stores the floating-point tensors in that
    precision (half the file size); :func:`load_model` returns float32 tensors.
    """
    from gfm.io.atomic import atomic_write

    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": model.config.to_dict(),
        "normalization": normalization.to_dict(),
        "provenance": dict(provenance or {}),
        "state_dict": {
            k: v.detach().cpu().to(dtype) if dtype is not None and v.is_floating_point() else v.detach().cpu()
            for k, v in model.state_dict().items()
        },
    }
    with atomic_write(path, replace=replace) as tmp:
        torch.save(payload, tmp)
    return Path(path)
