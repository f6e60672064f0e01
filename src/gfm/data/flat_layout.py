"""The ``flat`` dataset layout: photos and their mattes side by side in one folder.

    photos/cat.jpg   photos/cat_alpha.png   (photos/cat_trimap.png)
    photos/dog.jpg   photos/dog_mask.png

A matte is named after its photo with ``_alpha``, ``_mask`` or ``_matte``
(what ``gfm matte --outputs alpha`` writes next to a photo), a trimap with
``_trimap``. ``gfm data check``, ``gfm evaluate --data`` and ``gfm train`` find
this layout through :func:`gfm.data.layouts.detect_layout` alike: one notion of a
dataset folder. Photos and mattes that share a stem (``cat.jpg`` + ``cat.png``)
cannot be told apart by name; both commands say how to name them.
"""

from __future__ import annotations

import os
from pathlib import Path

from gfm.data.samples import MattingSample, MattingSplit, PairingProblem, list_images

#: Stem endings that make an image a matte or a trimap of the photo named by the rest.
ALPHA_ENDINGS: tuple[str, ...] = ("_alpha", "_mask", "_matte")
TRIMAP_ENDING = "_trimap"
#: How the layout is described in messages.
DESCRIPTION = "photos with their mattes side by side (NAME.jpg + NAME_alpha.png, or _mask / _matte)"


def _role(path: Path) -> tuple[str, str]:
    """``("alpha" | "trimap" | "image", the photo's stem)``."""
    stem = path.stem
    for ending in ALPHA_ENDINGS:
        if stem.endswith(ending) and len(stem) > len(ending):
            return "alpha", stem[: -len(ending)]
    if stem.endswith(TRIMAP_ENDING) and len(stem) > len(TRIMAP_ENDING):
        return "trimap", stem[: -len(TRIMAP_ENDING)]
    return "image", stem


def is_flat_folder(root: str | os.PathLike[str]) -> bool:
    """Whether ``root`` holds at least one photo and its matte side by side."""
    files = list_images(Path(root))
    images = {p.stem for p in files if _role(p)[0] == "image"}
    return any(role == "alpha" and stem in images for role, stem in map(_role, files))


def flat_split(root: str | os.PathLike[str]) -> MattingSplit:
    """The photos of ``root`` paired with their mattes (and trimaps) by name.

    Returns:
        A :class:`~gfm.data.samples.MattingSplit` (layout ``"flat"``); photos
        without a matte, mattes without a photo, and repeated names are its
        ``problems``.
    """
    root = Path(root)
    by_role: dict[str, dict[str, Path]] = {"image": {}, "alpha": {}, "trimap": {}}
    problems: list[PairingProblem] = []
    for path in list_images(root):
        role, stem = _role(path)
        if stem in by_role[role]:
            other = by_role[role][stem]
            problems.append(PairingProblem(path, "duplicate-stem", f"{path}: {other.name} is the {role} of {stem!r} too"))
            continue
        by_role[role][stem] = path
    images, alphas, trimaps = by_role["image"], by_role["alpha"], by_role["trimap"]
    samples = []
    for stem in sorted(images):
        if stem not in alphas:
            problems.append(PairingProblem(images[stem], "missing-alpha", f"{images[stem]}: no matte {root}/{stem}_alpha.png (or _mask, _matte)"))
            continue
        samples.append(MattingSample(stem, images[stem], alphas[stem], trimaps.get(stem)))
    for stem in sorted((set(alphas) | set(trimaps)) - set(images)):
        orphan = alphas.get(stem) or trimaps[stem]
        problems.append(PairingProblem(orphan, "missing-image", f"{orphan}: no photo {root}/{stem}.*"))
    with_trimaps = bool(samples) and all(s.trimap is not None for s in samples)
    if not with_trimaps:  # trimaps are all there or generated for all (evaluation), never mixed
        samples = [MattingSample(s.key, s.image, s.alpha, None) for s in samples]
    return MattingSplit(root, root.name or "flat", samples, problems, "flat", root, root, root if with_trimaps else None)


def same_stem_hint(files: list[Path]) -> str | None:
    """For a folder whose images repeat stems (``cat.jpg`` + ``cat.png``): how to name mattes
    so that the folder reads as the flat layout; ``None`` when no stem repeats."""
    seen: dict[str, Path] = {}
    for path in files:
        if path.stem in seen:
            return (f"{seen[path.stem].name} and {path.name} share a name; if one is the other's matte, name it "
                    f"{path.stem}_alpha.png")
        seen[path.stem] = path
    return None


__all__ = ["ALPHA_ENDINGS", "DESCRIPTION", "TRIMAP_ENDING", "flat_split", "is_flat_folder", "same_stem_hint"]
