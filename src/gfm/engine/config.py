"""Training configuration: typed, validated, loadable from YAML, with presets.

A run is described by :class:`TrainConfig` (model, data, optimisation,
logging). It is read from a YAML file and/or a preset, overridden by
``--set section.key=value`` arguments, validated (unknown keys and wrong types
are errors that say what is allowed), and saved as ``config.yaml`` in the run
folder.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gfm.errors import ConfigError

BATCH_SIZES = {"r34": 32, "r34_2b": 32, "r101": 8, "d121": 4, "tiny": 8}


@dataclass
class ModelSection:
    backbone: str = "r34"
    rosta: str = "TT"
    single_decoder: bool = False
    ppm: Literal["full", "single", "none"] = "full"
    bridge: bool = True
    backbone_weights: str | None = None  # torchvision ImageNet checkpoint file
    normalization: Literal["raw255", "imagenet"] = "imagenet"


@dataclass
class DataSection:
    track: Literal["ori", "comp"] = "ori"
    root: str | None = None  # ORI: AM-2k / P3M-10k root or folders; COMP: foregrounds (images + alphas)
    layout: Literal["auto", "am2k", "p3m", "folders"] = "auto"
    images: str | None = None  # layout "folders": images folder (relative to root or absolute)
    alphas: str | None = None  # layout "folders": alphas folder
    backgrounds: str | None = None  # COMP-Track: BG-20k train folder or COCO images
    route: Literal["rssn", "bg20k", "coco"] = "rssn"
    backgrounds_per_foreground: int = 5
    crop_sizes: list[int] = field(default_factory=lambda: [640, 960, 1280])
    out_size: int = 320
    workers: int | None = None  # data-loader processes (None: 0 for epochs under 8 batches, else 2; gfm.cpu)
    foreground_method: Literal["cf", "ml", "fast"] = "cf"  # which cached foreground estimate (closed form = paper)
    denoiser: Literal["bm3d", "nlm"] = "bm3d"  # RSSN denoiser (BM3D = paper; NLM much faster)
    use_cache: bool = True  # read precomputed foregrounds / denoised images (gfm prepare)
    compute_missing: bool = False  # compute what the cache lacks on the fly (slow: BM3D)
    validation: str | None = None  # real images with ground truth (AM-2k / P3M validation layout)
    validation_max_images: int | None = None
    strict: bool = False  # an unreadable training file ends the run (default: it is skipped, said and counted)


@dataclass
class OptimSection:
    epochs: int = 500
    steps: int | None = None  # stop after this many optimiser steps (overrides epochs)
    batch_size: int = 32
    lr: float = 1e-5
    schedule: Literal["constant", "cosine"] = "constant"  # cosine: decay to lr_min over the run's steps
    warmup_steps: int = 0  # linear warm-up from 0 over this many steps
    lr_min: float = 0.0
    schedule_steps: int | None = None  # horizon of the cosine decay (default: the run's steps)
    weight_decay: float = 0.0
    accumulate: int = 1  # gradient accumulation steps per optimiser step
    amp: Literal["auto", "bf16", "fp16", "off"] = "auto"  # auto: bf16/fp16 on CUDA, fp32 on CPU; bf16 also on CPU
    channels_last: bool = False  # channels-last memory format (faster convolutions with CPU bf16)
    soft_fusion: bool = True  # differentiable collaborative matting in the fusion loss
    sync_bn: bool = False  # CUDA + several GPUs: batch-norm statistics over the global batch
    freeze_bn: bool = False  # keep batch norms in eval mode (running statistics): small batches
    seed: int = 0
    device: str = "auto"
    threads: int | None = None  # PyTorch CPU threads a process (None: its share of the cores minus loader workers)


@dataclass
class LogSection:
    out: str = "runs/gfm"
    log_every: int = 10  # steps
    checkpoint_every: int = 500  # steps
    keep_last: int = 3
    val_every: int = 1  # epochs
    tensorboard: bool = False
    progress: bool = True


@dataclass
class TrainConfig:
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    optim: OptimSection = field(default_factory=OptimSection)
    log: LogSection = field(default_factory=LogSection)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", str(tp)).replace("NoneType", "null")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``tp`` (bool/int/float/str/list/Literal/Optional)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(f"{where}: expected {' or '.join(_type_name(a) for a in args)}, got {value!r}")
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{where}: expected one of {_type_name(tp)}, got {value!r}")
        return value
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, (str, os.PathLike)):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return str(value)
    raise ConfigError(f"{where}: unsupported type {tp}")  # pragma: no cover


def _merge_section(section: Any, values: dict[str, Any], where: str) -> None:
    hints = typing.get_type_hints(type(section))
    for key, value in values.items():
        if key not in hints:
            allowed = ", ".join(hints)
            raise ConfigError(f"unknown key {where}.{key}; allowed keys of {where}: {allowed}")
        setattr(section, key, _coerce(value, hints[key], f"{where}.{key}"))


def merge(config: TrainConfig, values: dict[str, Any], source: str = "config") -> TrainConfig:
    """Apply nested ``{section: {key: value}}`` values onto ``config`` (validated)."""
    if not isinstance(values, dict):
        raise ConfigError(f"{source}: expected a mapping of sections (model, data, optim, log)")
    sections = {f.name for f in dataclasses.fields(TrainConfig)}
    for name, body in values.items():
        if name not in sections:
            raise ConfigError(f"{source}: unknown section {name!r}; sections are {', '.join(sorted(sections))}")
        if not isinstance(body, dict):
            raise ConfigError(f"{source}: section {name!r} must be a mapping, got {body!r}")
        _merge_section(getattr(config, name), body, name)
    return config


def _yaml() -> types.ModuleType:
    """PyYAML, or a :class:`ConfigError` that names the extra to install."""
    try:
        import yaml
    except ImportError:
        raise ConfigError(
            "gfm train reads configuration (--config, --set) as YAML and needs PyYAML: "
            "pip install 'gfm-matting[train]' (or pip install pyyaml)"
        ) from None
    return yaml


def parse_override(text: str) -> dict[str, Any]:
    """``"optim.lr=3e-5"`` -> ``{"optim": {"lr": 3e-5}}`` (the value is read as YAML)."""
    yaml = _yaml()

    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise ConfigError(f"override {text!r} must look like section.key=value (e.g. optim.lr=3e-5)")
    key, raw = text.split("=", 1)
    section, name = key.split(".", 1)
    try:
        value = yaml.safe_load(raw) if raw != "" else None
    except yaml.YAMLError as error:
        raise ConfigError(f"override {text!r}: cannot read the value ({error})") from None
    return {section.strip(): {name.strip(): value}}


def load_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    yaml = _yaml()

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None
    return data


def validate(config: TrainConfig) -> TrainConfig:
    """Cross-field checks (types were checked on assignment)."""
    from gfm.models.registry import get_backbone

    get_backbone(config.model.backbone)
    if config.model.rosta not in ("TT", "FT", "BT", "RIM"):
        raise ConfigError(f"model.rosta must be TT, FT, BT or RIM, got {config.model.rosta!r}")
    positive = {
        "optim.batch_size": config.optim.batch_size,
        "optim.accumulate": config.optim.accumulate,
        "optim.epochs": config.optim.epochs,
        "data.out_size": config.data.out_size,
        "data.backgrounds_per_foreground": config.data.backgrounds_per_foreground,
        "log.log_every": config.log.log_every,
        "log.checkpoint_every": config.log.checkpoint_every,
        "log.keep_last": config.log.keep_last,
        "log.val_every": config.log.val_every,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{key} must be positive, got {value}")
    if config.optim.threads is not None and config.optim.threads <= 0:
        raise ConfigError(f"optim.threads must be positive (or null: automatic), got {config.optim.threads}")
    if config.optim.steps is not None and config.optim.steps <= 0:
        raise ConfigError(f"optim.steps must be positive, got {config.optim.steps}")
    if config.optim.lr <= 0:
        raise ConfigError(f"optim.lr must be positive, got {config.optim.lr}")
    if config.optim.schedule_steps is not None and config.optim.schedule_steps <= 0:
        raise ConfigError(f"optim.schedule_steps must be positive, got {config.optim.schedule_steps}")
    if config.optim.warmup_steps < 0 or not 0 <= config.optim.lr_min <= config.optim.lr:
        raise ConfigError("optim.warmup_steps must be >= 0 and optim.lr_min between 0 and optim.lr")
    if config.data.out_size % 32:
        raise ConfigError(f"data.out_size must be a multiple of 32, got {config.data.out_size}")
    if not config.data.crop_sizes or any(c < 32 for c in config.data.crop_sizes):
        raise ConfigError(f"data.crop_sizes must be a non-empty list of sizes >= 32, got {config.data.crop_sizes}")
    if config.data.workers is not None and config.data.workers < 0:
        raise ConfigError(f"data.workers must be >= 0, got {config.data.workers}")
    if config.data.root is None:
        raise ConfigError("data.root is not set: pass --data ROOT (a folder of training images and alphas)")
    if config.data.track == "comp" and config.data.backgrounds is None:
        raise ConfigError("COMP-Track needs background images: pass --backgrounds DIR (BG-20k train or COCO)")
    return config


# ------------------------------------------------------------------ presets

TRACKS = {
    # name: (track, route, epochs, description)
    "ori-am2k": ("ori", "rssn", 500, "ORI-Track on AM-2k: train on the 1,800 real training images"),
    "ori-p3m": ("ori", "rssn", 500, "ORI-Track on P3M-10k (the released PM-10k): train on the blurred real images"),
    "comp-rssn": ("comp", "rssn", 100, "COMP-Track with RSSN composites on BG-20k backgrounds"),
    "comp-bg20k": ("comp", "bg20k", 100, "COMP-Track baseline COMP-BG20K: plain blending on BG-20k backgrounds"),
    "comp-coco": ("comp", "coco", 100, "COMP-Track baseline COMP-COCO: plain blending on MS COCO backgrounds"),
}


def preset_names() -> list[str]:
    from gfm.models.registry import list_backbones

    return [f"{t}-{b}-{r.lower()}" for t in TRACKS for b in list_backbones() for r in ("TT", "FT", "BT", "RIM")]


def preset(name: str) -> TrainConfig:
    """The paper's recipe, e.g. ``ori-am2k-r34-tt`` or ``comp-rssn-d121-rim``.

    Adam, learning rate 1e-5 fixed, batch 32 (r34), 8 (r101), 4 (d121), crops
    of 640 / 960 / 1280 resized to 320, 500 epochs (ORI) or 100 (COMP).
    """
    for track_name, (track, route, epochs, _) in TRACKS.items():
        prefix = track_name + "-"
        if name.startswith(prefix):
            rest = name[len(prefix) :]
            backbone, _, rosta = rest.rpartition("-")
            config = TrainConfig()
            config.model.backbone, config.model.rosta = backbone, rosta.upper()
            config.data.track, config.data.route = track, route  # type: ignore[assignment]
            config.optim.epochs = epochs
            config.optim.batch_size = BATCH_SIZES.get(backbone, 8)
            config.log.out = f"runs/{name}"
            if name in preset_names():
                return config
            break
    close = [p for p in preset_names() if p.split("-")[:2] == name.split("-")[:2]][:6]
    raise ConfigError(f"unknown preset {name!r}; presets look like ori-am2k-r34-tt or comp-rssn-d121-rim" + (f" (e.g. {', '.join(close)})" if close else "") + "; see `gfm train --list-presets`")


def build_config(preset_name: str | None, config_file: str | None, overrides: list[str]) -> TrainConfig:
    """Preset, then YAML file, then ``--set`` overrides, then validation."""
    config = preset(preset_name) if preset_name else TrainConfig()
    if config_file:
        merge(config, load_yaml(config_file), source=str(config_file))
    for text in overrides:
        merge(config, parse_override(text), source=f"--set {text}")
    return validate(config)


def dump_yaml(config: TrainConfig) -> str:
    yaml = _yaml()

    return yaml.safe_dump(config.to_dict(), sort_keys=False)


def from_dict(values: dict[str, Any]) -> TrainConfig:
    """Rebuild a config saved by :func:`dump_yaml` (validated)."""
    return merge(TrainConfig(), values, source="saved config")
