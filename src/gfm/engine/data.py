"""Training and validation data from a :class:`~gfm.engine.config.TrainConfig`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from gfm.engine.config import TrainConfig
from gfm.errors import ConfigError

_LAYOUTS = {"auto": None, "am2k": "am2k", "p3m": "p3m", "folders": "pairs"}


def _folder(value: str | None, what: str) -> Path:
    if value is None:
        raise ConfigError(f"{what} is not set")
    path = Path(value)
    if not path.is_dir():
        raise ConfigError(f"{path}: {what} folder not found; check the path (a dataset folder is needed before training starts)")
    return path


def build_training_dataset(config: TrainConfig) -> Any:
    """The ORI-Track (real images) or COMP-Track (composites) training set, validated."""
    from gfm.data.augment import AugmentConfig
    from gfm.data.cache import Cache, CacheReader, default_cache_dir
    from gfm.data.dataset import CompositeDataset, MattingDataset
    from gfm.data.layouts import background_split, matting_split

    data = config.data
    root = _folder(data.root, "data.root (--data)")
    split = matting_split(root, layout=_LAYOUTS[data.layout])
    if not split.samples:
        raise ConfigError(f"{root}: no training images with alpha mattes found")
    augment = AugmentConfig(crop_sizes=tuple(data.crop_sizes), out_size=data.out_size)
    cache = Cache(default_cache_dir(root))
    rosta = config.model.rosta
    if data.track == "ori":
        reader = None
        if data.use_cache:
            cached = cache.foreground(split.samples[0].key, data.foreground_method).is_file()
            if cached or data.compute_missing:
                reader = CacheReader(cache, data.foreground_method, data.denoiser, compute_missing=data.compute_missing)
            else:
                print(
                    f"note: no foreground cache under {cache.root}: training without the composition loss "
                    f"(run `gfm prepare foregrounds {root}` to add it)",
                    file=sys.stderr,
                )
        return MattingDataset(split.samples, rosta=rosta, augment=augment, cache=reader, seed=config.optim.seed, strict=data.strict)
    backgrounds_root = _folder(data.backgrounds, "data.backgrounds (--backgrounds)")
    backgrounds = background_split(backgrounds_root)
    if not backgrounds.images:
        raise ConfigError(f"{backgrounds_root}: no background images found")
    reader = CacheReader(
        cache,
        data.foreground_method,
        data.denoiser,
        compute_missing=data.compute_missing or not data.use_cache,
        background_cache=Cache(default_cache_dir(backgrounds_root)),
    )
    missing = [s for s in split.samples if not cache.foreground(s.key, data.foreground_method).is_file()]
    if missing and not reader.compute_missing:
        raise ConfigError(
            f"{cache.root}: {len(missing)} of {len(split.samples)} foregrounds are not cached (first: {missing[0].image}); "
            f"run `gfm prepare foregrounds {root} --method {data.foreground_method}` (and `gfm prepare denoise` for RSSN), "
            "or --set data.compute_missing=true"
        )
    return CompositeDataset(
        split.samples, backgrounds, reader, route=data.route, k=data.backgrounds_per_foreground, rosta=rosta, augment=augment, seed=config.optim.seed,
        strict=data.strict,
    )


def build_validation(config: TrainConfig) -> Any | None:
    """Real validation images (AM-2k / P3M layouts) or None."""
    if config.data.validation is None:
        return None
    from gfm.evaluation.datasets import discover_dataset

    dataset = discover_dataset(_folder(config.data.validation, "data.validation (--validation)"))
    if config.data.validation_max_images is not None:
        del dataset.samples[config.data.validation_max_images :]
    return dataset
