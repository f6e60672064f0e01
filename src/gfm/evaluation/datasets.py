"""The ground truth of an evaluation: a :class:`~gfm.data.layouts.MattingSplit`, strictly paired.

Evaluation reads datasets with gfm's one description of them
(:mod:`gfm.data.layouts`), built by

* :func:`discover_dataset` for a dataset folder
  (:func:`~gfm.data.layouts.validation_split`: AM-2k validation, a P3M-10k
  subset, or any folder holding an image folder and an alpha folder, named by
  its path);
* :func:`folder_dataset` for any folders of images and alphas (and trimaps)
  matched by file stem.

Where training lists unpaired files and goes on, an evaluation refuses them:
every image needs its alpha and every alpha its image (the error lists the
orphans); a trimap folder, when there is one, needs a trimap for every sample.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from gfm.data.layouts import IMAGE_SUFFIXES, MattingSplit, list_images, pair_folders, validation_split
from gfm.errors import InputError

__all__ = ["dataset_source", "discover_dataset", "folder_dataset", "index_by_stem"]

#: How each layout is named in a report's settings (``summary.json``).
_LAYOUT_NAMES = {"am2k": "AM-2k", "p3m": "P3M-10k"}


def index_by_stem(folder: Path, what: str) -> dict[str, Path]:
    """Map file stem -> path for the image files of ``folder``.

    Raises :class:`InputError` when the folder is missing, holds no image or
    holds two files with one stem (``a.png`` and ``a.jpg``).
    """
    if not folder.is_dir():
        raise InputError(f"{folder}: {what} folder not found")
    index: dict[str, Path] = {}
    for path in list_images(folder):
        if path.stem in index:
            raise InputError(
                f"{folder}: two {what} files share the name {path.stem!r} "
                f"({index[path.stem].name}, {path.name}); keep one"
            )
        index[path.stem] = path
    if not index:
        raise InputError(
            f"{folder}: no {what} files found (looked for {', '.join(sorted(IMAGE_SUFFIXES))})"
        )
    return index


def _name_list(names: Iterable[str], limit: int = 10) -> str:
    names = sorted(names)
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _check_folders(images: Path | None, alphas: Path | None, trimaps: Path | None) -> None:
    """A missing or empty folder, or a repeated stem: said per folder, before pairing."""
    for what, folder in {"image": images, "alpha": alphas, "trimap": trimaps}.items():
        if folder is not None:
            index_by_stem(folder, what)


def _require_paired(split: MattingSplit) -> MattingSplit:
    """``split`` itself when every file has its partners; else the orphans in one message."""
    alphas_dir, images_dir, trimaps_dir = split.alpha_dir, split.image_dir, split.trimap_dir
    unpaired: dict[str, set[str]] = {}
    for problem in split.problems:
        kind = problem.kind
        if kind == "missing-image" and problem.path.parent != alphas_dir:
            continue  # a trimap without an image: it is never read
        unpaired.setdefault(kind, set()).add(problem.path.stem)
    if "missing-alpha" in unpaired or "missing-image" in unpaired:
        parts = []
        if "missing-alpha" in unpaired:
            parts.append(f"images without an alpha in {alphas_dir}: {_name_list(unpaired['missing-alpha'])}")
        if "missing-image" in unpaired:
            parts.append(f"alphas without an image in {images_dir}: {_name_list(unpaired['missing-image'])}")
        raise InputError("images and alphas do not pair up by file name; " + "; ".join(parts))
    if "missing-trimap" in unpaired:
        raise InputError(
            f"{trimaps_dir}: no trimap for {_name_list(unpaired['missing-trimap'])}; add them, or leave the "
            "trimap folder out to generate every trimap from the ground truth"
        )
    return split


def folder_dataset(
    images: str | os.PathLike[str],
    alphas: str | os.PathLike[str],
    trimaps: str | os.PathLike[str] | None = None,
    name: str = "folders",
) -> MattingSplit:
    """Samples from plain folders, matched by file stem.

    Args:
        images: folder of RGB images.
        alphas: folder of ground-truth alphas (8- or 16-bit grayscale).
        trimaps: optional folder of trimaps (0 / 128 / 255); without it the
            trimaps are generated from the alphas.
        name: dataset name used in the reports.

    Raises:
        InputError: a folder is missing or empty, two files share a stem, or
            a file has no partner.
    """
    images_dir, alphas_dir = Path(images), Path(alphas)
    trimaps_dir = Path(trimaps) if trimaps is not None else None
    _check_folders(images_dir, alphas_dir, trimaps_dir)
    return _require_paired(pair_folders(images_dir, alphas_dir, trimaps_dir, name=name))


def discover_dataset(root: str | os.PathLike[str], subset: str | None = None) -> MattingSplit:
    """The validation split of the dataset folder ``root``, strictly paired.

    Args:
        root: the dataset folder (see :func:`gfm.data.layouts.validation_split`).
        subset: ``"P3M-500-P"`` or ``"P3M-500-NP"`` (case-insensitive) to
            pick a P3M-10k subset; required when both are present.

    Raises:
        InputError: when no known layout is found, the choice is ambiguous,
            or a file has no partner.
    """
    split = validation_split(root, subset)
    _check_folders(split.image_dir, split.alpha_dir, split.trimap_dir)
    return _require_paired(split)


def dataset_source(split: MattingSplit) -> dict[str, str]:
    """Where ``split``'s files are, as recorded in a report and checked on resume:
    the split's folder for AM-2k and P3M-10k, else the image, alpha (and trimap) folders."""
    def resolved(folder: Path | None) -> str:
        return str(folder.resolve()) if folder is not None else ""

    if split.layout in _LAYOUT_NAMES and split.image_dir is not None:
        return {"layout": _LAYOUT_NAMES[split.layout], "root": resolved(split.image_dir.parent)}
    source = {"layout": "folders", "images": resolved(split.image_dir), "alphas": resolved(split.alpha_dir)}
    if split.trimap_dir is not None:
        source["trimaps"] = resolved(split.trimap_dir)
    return source
