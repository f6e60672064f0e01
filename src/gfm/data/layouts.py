"""Dataset discovery: the released AM-2k, P3M-10k and BG-20k layouts, COCO-style
image folders and plain folders of images and alphas matched by file stem.

This is gfm's one description of a matting dataset: a :class:`MattingSplit` of
:class:`MattingSample` (an image, its alpha and, where the dataset has one, its
trimap; both defined in :mod:`gfm.data.samples`, below every layout, and
exported here too). Training, ``gfm data check``, ``gfm compose``, ``gfm prepare`` and
``gfm evaluate`` (:func:`validation_split`, via :mod:`gfm.evaluation.datasets`)
all find their samples here, so a new layout is one function in this module.

Nothing here decodes pixels: discovery pairs files by stem and reports missing
partners; :func:`check_headers` reads only image headers (size, mode, EXIF
orientation) and is fast enough to run before every training run. The full
decode check used by ``gfm data check`` lives in :mod:`gfm.data.check`.

Layouts (``ROOT`` is what the user passes):

* ``am2k``: ``ROOT/train/{original/*.jpg, mask/*.png}``,
  ``ROOT/validation/{original, mask, trimap}``;
* ``p3m`` (P3M-10k, the released PM-10k): ``ROOT/train/{blurred_image, mask}``;
  ``P3M-500-P/{blurred_image, mask, trimap}`` and
  ``P3M-500-NP/{original_image, mask, trimap}``, under ``ROOT/validation/`` or
  directly under ``ROOT``;
* ``bg20k``: ``ROOT/train/*.jpg``, ``ROOT/testval/*.jpg`` (backgrounds only);
* ``pairs``: ``ROOT/<images>/`` and ``ROOT/<alphas>/`` (optionally
  ``ROOT/trimap/``) with the folder names listed in :data:`IMAGE_DIR_NAMES` and
  :data:`ALPHA_DIR_NAMES`;
* ``images``: any folder of images, searched recursively (COCO backgrounds).

The split a model is scored on is :func:`validation_split`: AM-2k's
``validation``, a P3M-10k subset, or a ``pairs`` folder named by its path.

Folders named :data:`CACHE_DIR_NAME` (the precomputation cache) are never
treated as data.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from gfm.data.flat_layout import DESCRIPTION, flat_split, is_flat_folder, same_stem_hint
from gfm.data.samples import (
    CACHE_DIR_NAME,
    IMAGE_SUFFIXES,
    ImageSplit,
    MattingSample,
    MattingSplit,
    PairingProblem,
    is_image_file,
    list_images,
    pair_folders,
)
from gfm.errors import InputError

IMAGE_DIR_NAMES: tuple[str, ...] = (
    "original", "original_image", "blurred_image", "image", "images", "img", "merged", "composite",
)
ALPHA_DIR_NAMES: tuple[str, ...] = ("mask", "alpha", "alphas", "matte", "mattes", "masks")
TRIMAP_DIR_NAMES: tuple[str, ...] = ("trimap", "trimaps")
LAYOUTS: tuple[str, ...] = ("am2k", "p3m", "bg20k", "pairs", "flat", "images")
#: P3M-10k validation subsets and the folder holding each one's images.
P3M_SUBSETS: dict[str, str] = {"P3M-500-P": "blurred_image", "P3M-500-NP": "original_image"}


def _first_dir(parent: Path, names: Sequence[str]) -> Path | None:
    for n in names:
        if (parent / n).is_dir():
            return parent / n
    return None


# ---------------------------------------------------------------- layouts


def am2k_split(root: str | os.PathLike[str], split: str = "train") -> MattingSplit:
    """AM-2k: ``train`` (original + mask) or ``validation`` (original + mask, and
    trimap when the folder exists: without it, evaluation generates trimaps from
    the ground truth)."""
    root = Path(root)
    if split not in ("train", "validation"):
        raise InputError(f"AM-2k has splits 'train' and 'validation', not {split!r}")
    base = root / split
    trimap = _optional_trimaps(base) if split == "validation" else None
    return pair_folders(base / "original", base / "mask", trimap, root=root, name=f"AM-2k {split}", layout="am2k")


def _optional_trimaps(base: Path) -> Path | None:
    """A validation split's ``trimap`` folder, or ``None`` when it has none (one
    notion of a valid dataset: ``gfm evaluate`` then generates the trimaps)."""
    return base / "trimap" if (base / "trimap").is_dir() else None


def _p3m_val_base(root: Path, split: str) -> Path:
    for base in (root / "validation" / split, root / split):
        if base.is_dir():
            return base
    raise InputError(f"{root}: no {split}/ folder, neither under validation/ nor at the root")


def p3m_split(root: str | os.PathLike[str], split: str = "train") -> MattingSplit:
    """P3M-10k (the released PM-10k): ``train``, ``P3M-500-P`` or ``P3M-500-NP``."""
    root = Path(root)
    if split == "train":
        return pair_folders(
            root / "train" / "blurred_image", root / "train" / "mask", root=root, name="P3M train", layout="p3m"
        )
    if split in P3M_SUBSETS:
        return _p3m_subset(_p3m_val_base(root, split), split, root)
    raise InputError(f"P3M-10k has splits 'train', 'P3M-500-P' and 'P3M-500-NP', not {split!r}")


def _p3m_subset(base: Path, subset: str, root: Path) -> MattingSplit:
    """The P3M-10k validation subset in folder ``base`` (its images, masks and trimaps)."""
    images = base / P3M_SUBSETS[subset]
    return pair_folders(images, base / "mask", _optional_trimaps(base), root=root, name=subset, layout="p3m")


def pairs_split(root: str | os.PathLike[str], split: str = "all") -> MattingSplit:
    """A folder holding one image folder and one alpha folder (and maybe trimaps)."""
    root = Path(root)
    images = _first_dir(root, IMAGE_DIR_NAMES)
    alphas = _first_dir(root, ALPHA_DIR_NAMES)
    if images is None or alphas is None:
        raise InputError(
            f"{root}: expected an image folder ({', '.join(IMAGE_DIR_NAMES)}) and an alpha folder "
            f"({', '.join(ALPHA_DIR_NAMES)})"
        )
    return pair_folders(images, alphas, _first_dir(root, TRIMAP_DIR_NAMES), root=root, name=root.name or "pairs", layout="pairs")


def bg20k_split(root: str | os.PathLike[str], split: str = "train") -> ImageSplit:
    """BG-20k: ``train`` or ``testval`` images."""
    root = Path(root)
    if split not in ("train", "testval"):
        raise InputError(f"BG-20k has splits 'train' and 'testval', not {split!r}")
    if not (root / split).is_dir():
        raise InputError(f"{root / split}: folder not found (BG-20k layout)")
    return ImageSplit(root, f"BG-20k {split}", list_images(root / split, recursive=True))


def image_folder(root: str | os.PathLike[str]) -> ImageSplit:
    """Every image under ``root`` (recursive): COCO or any photo collection."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: folder not found")
    return ImageSplit(root, root.name or "images", list_images(root, recursive=True))


def detect_layout(root: str | os.PathLike[str]) -> str:
    """Guess the layout of ``root``: one of :data:`LAYOUTS`.

    Raises:
        InputError: ``root`` is missing or holds nothing recognisable.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: folder not found")
    if (root / "train" / "original").is_dir() and (root / "train" / "mask").is_dir():
        return "am2k"
    if (root / "validation" / "original").is_dir() and (root / "validation" / "mask").is_dir():
        return "am2k"
    if (root / "train" / "blurred_image").is_dir() or any(
        (base / s).is_dir() for base in (root, root / "validation") for s in ("P3M-500-P", "P3M-500-NP")
    ):
        return "p3m"
    if _first_dir(root, IMAGE_DIR_NAMES) and _first_dir(root, ALPHA_DIR_NAMES):
        return "pairs"
    if (root / "train").is_dir() and (root / "testval").is_dir():
        return "bg20k"
    if is_flat_folder(root):
        return "flat"
    if list_images(root, recursive=True):
        return "images"
    raise InputError(
        f"{root}: no known dataset layout (AM-2k, P3M-10k, BG-20k, image+alpha folders, photos with their "
        "mattes side by side) and no images"
    )


def matting_splits(root: str | os.PathLike[str], layout: str | None = None) -> list[MattingSplit]:
    """Every matting split present under ``root`` (train and validation)."""
    root = Path(root)
    layout = layout or detect_layout(root)
    if layout == "am2k":
        return [am2k_split(root, s) for s in ("train", "validation") if (root / s).is_dir()]
    if layout == "p3m":
        splits = [p3m_split(root, "train")] if (root / "train").is_dir() else []
        for s in ("P3M-500-P", "P3M-500-NP"):
            if (root / "validation" / s).is_dir() or (root / s).is_dir():
                splits.append(p3m_split(root, s))
        return splits
    if layout == "pairs":
        return [pairs_split(root)]
    if layout == "flat":
        return [flat_split(root)]
    raise InputError(f"{root}: layout {layout!r} holds no alpha mattes")


def matting_split(root: str | os.PathLike[str], split: str | None = None, layout: str | None = None) -> MattingSplit:
    """One matting split by name; ``split=None`` picks the training split.

    ``split`` is ``train`` / ``validation`` (AM-2k), ``train`` / ``P3M-500-P`` /
    ``P3M-500-NP`` (P3M-10k), and ignored for the ``pairs`` layout.
    """
    root = Path(root)
    layout = layout or detect_layout(root)
    if layout == "am2k":
        return am2k_split(root, split or "train")
    if layout == "p3m":
        return p3m_split(root, split or "train")
    if layout == "pairs":
        return pairs_split(root)
    if layout == "flat":
        return flat_split(root)
    raise InputError(f"{root}: layout {layout!r} holds no alpha mattes; expected AM-2k, P3M-10k, image+alpha folders "
                     "or photos with their mattes side by side (NAME.jpg + NAME_alpha.png)")


def background_split(root: str | os.PathLike[str], split: str | None = None, layout: str | None = None) -> ImageSplit:
    """Background images: BG-20k's ``train`` (default) or ``testval``, else every image under ``root``."""
    root = Path(root)
    layout = layout or detect_layout(root)
    if layout == "bg20k":
        return bg20k_split(root, split or "train")
    return image_folder(root)


def validation_split(root: str | os.PathLike[str], subset: str | None = None) -> MattingSplit:
    """The split of ``root`` a model is scored on (what ``gfm evaluate --data`` reads).

    In this order:

    * P3M-10k: ``P3M-500-P`` or ``P3M-500-NP`` under ``root/validation/`` or
      ``root`` (``subset`` picks one, case-insensitive; needed when both are
      there); ``root`` may be the subset folder itself (named so, or with
      ``subset`` given);
    * AM-2k: ``root/validation/{original, mask}`` (and ``trimap``), named
      ``"AM-2k validation"``;
    * any ``pairs`` folder (an image folder and an alpha folder, see
      :data:`IMAGE_DIR_NAMES`, such as ``original/`` + ``mask/``), named by its
      path: only its place says what it is.

    Trimaps are used where the split has a trimap folder. Pairing problems are
    listed in the split's ``problems`` as for every layout.

    Raises:
        InputError: ``root`` is missing, holds no known layout, ``subset`` is
            unknown or not there, or both P3M subsets are there without one.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: dataset folder not found")
    canonical: str | None = None
    if subset is not None:
        matches = [s for s in P3M_SUBSETS if s.lower() == subset.lower()]
        if not matches:
            raise InputError(f"unknown subset {subset!r}; choose one of {', '.join(P3M_SUBSETS)}")
        canonical = matches[0]

    def holds(folder: Path, name: str) -> bool:
        return (folder / "mask").is_dir() and (folder / P3M_SUBSETS[name]).is_dir()

    found: dict[str, Path] = {}
    for base in (root / "validation", root):
        for name in P3M_SUBSETS:
            if name not in found and holds(base / name, name):
                found[name] = base / name
    if canonical is not None:
        if canonical in found:
            return _p3m_subset(found[canonical], canonical, root)
        if holds(root, canonical):  # ROOT is the subset folder itself
            return _p3m_subset(root, canonical, root)
        raise InputError(
            f"{root}: no {canonical} subset found (looked for {canonical}/mask and "
            f"{canonical}/{P3M_SUBSETS[canonical]} under {root}/validation and {root})"
        )
    if (root / "validation" / "original").is_dir() and (root / "validation" / "mask").is_dir():
        return am2k_split(root, "validation")
    if len(found) == 1:
        ((name, folder),) = found.items()
        return _p3m_subset(folder, name, root)
    if len(found) > 1:
        raise InputError(
            f"{root}: holds both P3M-10k validation subsets; pick one with "
            f"subset / --subset {' or '.join(P3M_SUBSETS)}"
        )
    named = [s for s in P3M_SUBSETS if s.lower() == root.resolve().name.lower() and holds(root, s)]
    if named:  # the subset folder itself, under its own name
        return _p3m_subset(root, named[0], root)
    if _first_dir(root, IMAGE_DIR_NAMES) and _first_dir(root, ALPHA_DIR_NAMES):
        return replace(pairs_split(root), name=str(root))
    if is_flat_folder(root):
        return replace(flat_split(root), name=str(root))
    hint = same_stem_hint(list_images(root))
    raise InputError(
        f"{root}: not a known dataset layout. Expected AM-2k ({root}/validation/original + mask "
        f"[+ trimap]), P3M-10k ({root}/validation/P3M-500-P/blurred_image + mask, "
        f"P3M-500-NP/original_image + mask), an image folder and an alpha folder "
        f"({', '.join(IMAGE_DIR_NAMES[:2])}, ... and {', '.join(ALPHA_DIR_NAMES[:2])}, ...) under {root}, "
        f"or {DESCRIPTION}{' (' + hint + ')' if hint else ''}. "
        "For other data pass --images DIR --alphas DIR [--trimaps DIR]"
    )


__all__ = [
    "ALPHA_DIR_NAMES",
    "CACHE_DIR_NAME",
    "IMAGE_DIR_NAMES",
    "IMAGE_SUFFIXES",
    "LAYOUTS",
    "P3M_SUBSETS",
    "TRIMAP_DIR_NAMES",
    "ImageSplit",
    "MattingSample",
    "MattingSplit",
    "PairingProblem",
    "am2k_split",
    "background_split",
    "bg20k_split",
    "detect_layout",
    "image_folder",
    "is_image_file",
    "list_images",
    "matting_split",
    "matting_splits",
    "p3m_split",
    "pair_folders",
    "pairs_split",
    "validation_split",
]
