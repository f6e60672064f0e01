"""The samples of a matting dataset and the files they come from, below every layout.

A :class:`MattingSplit` of :class:`MattingSample` (an image, its alpha and, where
the dataset has one, its trimap) with its :class:`PairingProblem` list; an
:class:`ImageSplit` of background images; :func:`list_images` (folders named
:data:`CACHE_DIR_NAME`, the precomputation cache, are never treated as data) and
:func:`pair_folders`, which matches images and alphas by file stem. The layouts
that find these folders are :mod:`gfm.data.layouts` and :mod:`gfm.data.flat_layout`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from gfm.errors import InputError

IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
CACHE_DIR_NAME = "gfm-cache"


@dataclass(frozen=True)
class MattingSample:
    """One image with its alpha matte (and trimap, for validation splits).

    Attributes:
        key: the image path relative to the dataset root, without suffix, in
            POSIX form (``"train/original/m_0001"``); unique within a root and
            used to name cache files.
        image: colour image file.
        alpha: alpha matte file (8-bit single channel).
        trimap: trimap file (0 / 128 / 255) or ``None``.
    """

    key: str
    image: Path
    alpha: Path
    trimap: Path | None = None

    @property
    def name(self) -> str:
        return self.image.stem


@dataclass(frozen=True)
class PairingProblem:
    """A file without its partner: ``kind`` is ``"missing-alpha"``,
    ``"missing-image"`` or ``"missing-trimap"``."""

    path: Path
    kind: str
    message: str


@dataclass
class MattingSplit:
    """The samples of one split of a matting dataset, plus pairing problems.

    Attributes:
        root: the dataset root the sample keys are relative to.
        name: what the split is, for messages and report tables
            (``"AM-2k validation"``, ``"P3M-500-NP"``, a folder's name or path).
        samples: the paired samples, sorted by file stem.
        problems: files left out of ``samples`` (no partner, repeated stem).
        layout: which of :data:`~gfm.data.layouts.LAYOUTS` found it (``"pairs"`` for plain folders).
        image_dir, alpha_dir, trimap_dir: the folders the samples come from;
            ``trimap_dir`` is ``None`` when the split has no trimaps (evaluation
            then generates them from the ground truth).
    """

    root: Path
    name: str
    samples: list[MattingSample]
    problems: list[PairingProblem] = field(default_factory=list)
    layout: str = "pairs"
    image_dir: Path | None = None
    alpha_dir: Path | None = None
    trimap_dir: Path | None = None

    @property
    def trimaps_provided(self) -> bool:
        """Whether the split ships trimap files (else they come from the ground truth)."""
        return self.trimap_dir is not None

    def require_complete(self) -> MattingSplit:
        """Raise :class:`InputError` listing the problems, if any; else return self."""
        if self.problems:
            shown = "\n  ".join(p.message for p in self.problems[:20])
            more = f"\n  ... and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
            raise InputError(
                f"{self.root} ({self.name}): {len(self.problems)} file(s) without a partner:\n  {shown}{more}\n"
                f"Fix or remove them; `gfm data check {self.root}` lists every problem."
            )
        if not self.samples:
            raise InputError(f"{self.root} ({self.name}): no image/alpha pairs found")
        return self


@dataclass
class ImageSplit:
    """The image files of one split of a background set."""

    root: Path
    name: str
    images: list[Path]

    def require_nonempty(self) -> ImageSplit:
        if not self.images:
            raise InputError(
                f"{self.root} ({self.name}): no images found "
                f"(looked for {', '.join(sorted(IMAGE_SUFFIXES))}, recursively)"
            )
        return self


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def list_images(folder: Path, recursive: bool = False) -> list[Path]:
    """Image files of ``folder`` sorted by path; hidden files and the cache skipped.

    Broken symbolic links (dangling, loops) with an image suffix are listed
    too, so that whoever reads them reports them instead of losing them
    without a word (recursive listing always did).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    if not recursive:
        return sorted(
            p for p in folder.iterdir() if is_image_file(p) and (p.is_file() or (p.is_symlink() and not p.exists()))
        )
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d != CACHE_DIR_NAME and not d.startswith("."))
        found.extend(Path(dirpath) / f for f in filenames if is_image_file(Path(f)))
    return sorted(found)


def _by_stem(files: Iterable[Path]) -> tuple[dict[str, Path], list[Path]]:
    """Map stem -> file; second value: files whose stem is already taken."""
    mapping: dict[str, Path] = {}
    duplicates: list[Path] = []
    for f in files:
        if f.stem in mapping:
            duplicates.append(f)
        else:
            mapping[f.stem] = f
    return mapping, duplicates


def _rel_key(path: Path, root: Path) -> str:
    try:
        rel = path.relative_to(root)
    except ValueError:
        rel = Path(path.name)
    return rel.with_suffix("").as_posix()


def pair_folders(
    image_dir: str | os.PathLike[str],
    alpha_dir: str | os.PathLike[str],
    trimap_dir: str | os.PathLike[str] | None = None,
    *,
    root: str | os.PathLike[str] | None = None,
    name: str = "pairs",
    layout: str = "pairs",
) -> MattingSplit:
    """Match images and alphas (and trimaps) by file stem.

    Args:
        image_dir, alpha_dir, trimap_dir: folders of files; ``a/x.jpg`` pairs
            with ``b/x.png``.
        root: the dataset root sample keys are relative to (default: the
            parent of ``image_dir``).
        name: the split name used in messages.
        layout: the layout recorded in the split (one of :data:`~gfm.data.layouts.LAYOUTS`).

    Returns:
        A :class:`MattingSplit`; files without a partner, and files whose stem
        repeats within one folder (``x.jpg`` and ``x.png``), are listed in
        ``problems`` and left out of ``samples``.
    """
    image_dir, alpha_dir = Path(image_dir), Path(alpha_dir)
    trimap_path = Path(trimap_dir) if trimap_dir else None
    root_path = Path(root) if root is not None else image_dir.parent
    for folder in (image_dir, alpha_dir) + ((Path(trimap_dir),) if trimap_dir else ()):
        if not folder.is_dir():
            raise InputError(f"{folder}: folder not found (expected by the {name} layout)")
    images, dup_i = _by_stem(list_images(image_dir))
    alphas, dup_a = _by_stem(list_images(alpha_dir))
    trimaps, dup_t = _by_stem(list_images(Path(trimap_dir))) if trimap_dir else ({}, [])
    problems = [
        PairingProblem(p, "duplicate-stem", f"{p}: another file in this folder has the stem {p.stem!r}")
        for p in dup_i + dup_a + dup_t
    ]
    samples: list[MattingSample] = []
    for stem in sorted(images):
        image = images[stem]
        if stem not in alphas:
            problems.append(PairingProblem(image, "missing-alpha", f"{image}: no alpha {alpha_dir}/{stem}.*"))
            continue
        trimap = None
        if trimap_dir:
            trimap = trimaps.get(stem)
            if trimap is None:
                problems.append(
                    PairingProblem(image, "missing-trimap", f"{image}: no trimap {trimap_dir}/{stem}.*")
                )
                continue
        samples.append(MattingSample(_rel_key(image, root_path), image, alphas[stem], trimap))
    for stem in sorted(set(alphas) - set(images)):
        problems.append(
            PairingProblem(alphas[stem], "missing-image", f"{alphas[stem]}: no image {image_dir}/{stem}.*")
        )
    for stem in sorted(set(trimaps) - set(images)):
        problems.append(
            PairingProblem(trimaps[stem], "missing-image", f"{trimaps[stem]}: no image {image_dir}/{stem}.*")
        )
    return MattingSplit(root_path, name, samples, problems, layout, image_dir, alpha_dir, trimap_path)
