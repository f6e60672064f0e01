"""Data: dataset layouts, RoSTa targets, augmentation and the RSSN composition route.

Modules (one concern each):

* :mod:`~gfm.data.layouts`: AM-2k, P3M-10k, BG-20k, image folders, image/alpha pairs:
  the one description of a dataset that training, checks, composition and
  evaluation share;
* :mod:`~gfm.data.samples`: the sample and split types and file listing the layouts build on;
* :mod:`~gfm.data.files`: strict reading of mattes and trimaps;
* :mod:`~gfm.data.check`: ``gfm data check``;
* :mod:`~gfm.data.rosta`: TT / FT / BT targets;
* :mod:`~gfm.data.augment`: crop, resize, flip;
* :mod:`~gfm.data.compose`: RSSN steps as pure functions;
* :mod:`~gfm.data.foreground`, :mod:`~gfm.data.denoise`: pymatting and BM3D / NLM wrappers;
* :mod:`~gfm.data.cache`, :mod:`~gfm.data.prepare`: the precomputation cache;
* :mod:`~gfm.data.backgrounds`: ``gfm prepare backgrounds``;
* :mod:`~gfm.data.dataset`: PyTorch datasets (imports torch);
* :mod:`~gfm.data.materialise`, :mod:`~gfm.data.contact_sheet`: ``gfm compose``.

The names below are imported lazily, so ``import gfm.data`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "MattingSample": "layouts",
    "MattingSplit": "layouts",
    "ImageSplit": "layouts",
    "detect_layout": "layouts",
    "matting_split": "layouts",
    "matting_splits": "layouts",
    "background_split": "layouts",
    "pair_folders": "layouts",
    "validation_split": "layouts",
    "read_matte": "files",
    "read_trimap": "files",
    "check_dataset": "check",
    "make_trimap": "rosta",
    "make_glance_target": "rosta",
    "make_rosta_target": "rosta",
    "focus_target": "rosta",
    "AugmentConfig": "augment",
    "CropParams": "augment",
    "sample_crop": "augment",
    "RouteConfig": "compose",
    "route_config": "compose",
    "alpha_blend": "compose",
    "estimate_foreground": "foreground",
    "Cache": "cache",
    "CacheReader": "cache",
    "MattingDataset": "dataset",
    "CompositeDataset": "dataset",
    "compose_set": "materialise",
    "prepare_backgrounds": "backgrounds",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"gfm.data.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'gfm.data' has no attribute {name!r}")
