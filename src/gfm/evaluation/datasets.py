"""Finding evaluation samples on disk: AM-2k, P3M-10k and plain folders.

A :class:`EvalDataset` is a list of :class:`EvalSample` (a name, the ground
truth alpha, the image and, when the dataset ships one, the trimap), built by

* :func:`discover_dataset` for the released layouts:

  - AM-2k validation: ``ROOT/validation/{original,mask,trimap}`` or ``ROOT``
    itself holding ``original``, ``mask`` (and ``trimap``);
  - P3M-10k validation: ``P3M-500-P`` (images in ``blurred_image``) and
    ``P3M-500-NP`` (images in ``original_image``), each with ``mask`` and
    ``trimap``, under ``ROOT/validation/`` or ``ROOT``; pick one with
    ``subset`` when both are there. ``ROOT`` may also be a subset folder.

* :func:`folder_dataset` for any folders of images and alphas (and trimaps)
  matched by file stem.

Every image needs its alpha and every alpha its image (or the error lists
the orphans); a trimap folder, when given, needs a trimap for every sample.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gfm.data.layouts import IMAGE_SUFFIXES, list_images, pair_folders
from gfm.errors import InputError

__all__ = [
    "IMAGE_SUFFIXES",
    "P3M_SUBSETS",
    "EvalDataset",
    "EvalSample",
    "discover_dataset",
    "folder_dataset",
    "index_by_stem",
]

#: P3M-10k validation subsets and the folder holding each one's images.
P3M_SUBSETS: dict[str, str] = {"P3M-500-P": "blurred_image", "P3M-500-NP": "original_image"}

_AM2K_IMAGES = "original"
_MASKS = "mask"
_TRIMAPS = "trimap"


@dataclass(frozen=True)
class EvalSample:
    """One evaluation sample.

    Attributes:
        name: file stem shared by the image, alpha, trimap and prediction.
        alpha: ground-truth alpha file.
        image: the RGB image (needed when a predictor computes the alpha).
        trimap: trimap file, or ``None`` to generate it from the alpha.
    """

    name: str
    alpha: Path
    image: Path | None = None
    trimap: Path | None = None


@dataclass(frozen=True)
class EvalDataset:
    """Samples sorted by name, plus where they came from.

    Attributes:
        name: human-readable name ("AM-2k validation", "P3M-500-P", "folders").
        source: description of the folders, used to check that a resumed
            evaluation is the same one.
        samples: the samples, sorted by name.
        trimaps_provided: whether trimap files exist (else they are generated
            from the ground truth).
    """

    name: str
    source: dict[str, str]
    samples: tuple[EvalSample, ...]
    trimaps_provided: bool

    def __len__(self) -> int:
        return len(self.samples)


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


def _pair(
    images_dir: Path, alphas_dir: Path, trimaps_dir: Path | None
) -> tuple[tuple[EvalSample, ...], bool]:
    """Pair by stem with :func:`gfm.data.layouts.pair_folders`, which training uses
    too; an evaluation refuses any unpaired file, with the names in one message."""
    folders = {"image": images_dir, "alpha": alphas_dir, "trimap": trimaps_dir}
    for what, folder in folders.items():
        if folder is not None:
            index_by_stem(folder, what)  # a missing or empty folder, or a repeated stem: said per folder
    split = pair_folders(images_dir, alphas_dir, trimaps_dir, name="evaluation")
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
    samples = tuple(
        EvalSample(name=s.name, alpha=s.alpha, image=s.image, trimap=s.trimap) for s in sorted(split.samples, key=lambda s: s.name)
    )
    return samples, trimaps_dir is not None


def folder_dataset(
    images: str | os.PathLike[str],
    alphas: str | os.PathLike[str],
    trimaps: str | os.PathLike[str] | None = None,
    name: str = "folders",
) -> EvalDataset:
    """Samples from plain folders, matched by file stem.

    Args:
        images: folder of RGB images.
        alphas: folder of ground-truth alphas (8- or 16-bit grayscale).
        trimaps: optional folder of trimaps (0 / 128 / 255); without it the
            trimaps are generated from the alphas.
        name: dataset name used in the reports.
    """
    images_dir, alphas_dir = Path(images), Path(alphas)
    trimaps_dir = Path(trimaps) if trimaps is not None else None
    samples, provided = _pair(images_dir, alphas_dir, trimaps_dir)
    source = {"layout": "folders", "images": str(images_dir.resolve()), "alphas": str(alphas_dir.resolve())}
    if trimaps_dir is not None:
        source["trimaps"] = str(trimaps_dir.resolve())
    return EvalDataset(name=name, source=source, samples=samples, trimaps_provided=provided)


def _layout_dataset(name: str, layout: str, base: Path, images_folder: str) -> EvalDataset:
    trimaps = base / _TRIMAPS
    samples, provided = _pair(base / images_folder, base / _MASKS, trimaps if trimaps.is_dir() else None)
    source = {"layout": layout, "root": str(base.resolve())}
    return EvalDataset(name=name, source=source, samples=samples, trimaps_provided=provided)


def discover_dataset(root: str | os.PathLike[str], subset: str | None = None) -> EvalDataset:
    """Find the AM-2k or P3M-10k validation set under ``root``.

    Args:
        root: the dataset folder (see the module docstring for the layouts).
        subset: ``"P3M-500-P"`` or ``"P3M-500-NP"`` (case-insensitive) to
            pick a P3M-10k subset; required when both are present.

    Raises:
        InputError: when no known layout is found, or the choice is ambiguous.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: dataset folder not found")
    bases = [root / "validation", root]

    canonical: str | None = None
    if subset is not None:
        matches = [s for s in P3M_SUBSETS if s.lower() == subset.lower()]
        if not matches:
            raise InputError(f"unknown subset {subset!r}; choose one of {', '.join(P3M_SUBSETS)}")
        canonical = matches[0]

    found: dict[str, Path] = {}
    for base in bases:
        for name, images_folder in P3M_SUBSETS.items():
            folder = base / name
            if name not in found and (folder / _MASKS).is_dir() and (folder / images_folder).is_dir():
                found[name] = folder
    if canonical is not None:
        if canonical in found:
            return _layout_dataset(canonical, "P3M-10k", found[canonical], P3M_SUBSETS[canonical])
        # ROOT may itself be the subset folder
        if (root / _MASKS).is_dir() and (root / P3M_SUBSETS[canonical]).is_dir():
            return _layout_dataset(canonical, "P3M-10k", root, P3M_SUBSETS[canonical])
        raise InputError(
            f"{root}: no {canonical} subset found (looked for {canonical}/{_MASKS} and "
            f"{canonical}/{P3M_SUBSETS[canonical]} under {root}/validation and {root})"
        )

    for base in bases:
        if (base / _AM2K_IMAGES).is_dir() and (base / _MASKS).is_dir():
            return _layout_dataset("AM-2k validation", "AM-2k", base, _AM2K_IMAGES)
    if len(found) == 1:
        (name, folder), = found.items()
        return _layout_dataset(name, "P3M-10k", folder, P3M_SUBSETS[name])
    if len(found) > 1:
        raise InputError(
            f"{root}: holds both P3M-10k validation subsets; pick one with "
            f"subset / --subset {' or '.join(P3M_SUBSETS)}"
        )
    for name, images_folder in P3M_SUBSETS.items():
        if (root / _MASKS).is_dir() and (root / images_folder).is_dir():
            return _layout_dataset(name, "P3M-10k", root, images_folder)
    raise InputError(
        f"{root}: not a known dataset layout. Expected AM-2k ({root}/validation/original + mask "
        f"[+ trimap], or original + mask directly under {root}) or P3M-10k "
        f"({root}/validation/P3M-500-P/blurred_image + mask, P3M-500-NP/original_image + mask). "
        "For other data pass --images DIR --alphas DIR [--trimaps DIR]"
    )
