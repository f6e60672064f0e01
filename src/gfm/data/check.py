"""``gfm data check``: find every problem in a dataset before training starts.

Problems found (``Problem.kind``):

* ``missing-alpha`` / ``missing-image`` / ``missing-trimap``: a file without its partner;
* ``duplicate-stem``: two files of one folder share a stem (``x.jpg``, ``x.png``; in a
  folder of images, with how to name a matte so that the folder is the ``flat`` layout);
* ``unreadable``: empty, truncated or corrupt file;
* ``alpha-not-8bit``: an alpha matte or trimap that is RGB, 16-bit, palette, ...;
* ``size-mismatch``: image, alpha and trimap sizes differ (EXIF orientation applied);
* ``trimap-values``: a trimap with values other than 0 / 128 / 255;
* ``too-small``: shorter side below ``min_side`` (only when asked);
* ``empty``: a split without any image.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gfm.data.files import Header, alpha_mode_problem, read_header
from gfm.data.flat_layout import same_stem_hint
from gfm.data.layouts import (
    ImageSplit,
    MattingSplit,
    background_split,
    bg20k_split,
    detect_layout,
    matting_splits,
)
from gfm.errors import InputError


@dataclass(frozen=True)
class Problem:
    path: Path
    kind: str
    message: str


@dataclass
class CheckReport:
    """Result of :func:`check_dataset`."""

    root: Path
    layout: str
    counts: dict[str, int] = field(default_factory=dict)  # split name -> files checked
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def by_kind(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.problems:
            out[p.kind] = out.get(p.kind, 0) + 1
        return out


def _decode_problem(path: Path, kind: str) -> str | None:
    """Fully decode the file; ``None`` if fine, else the reason."""
    from gfm.io import read_image

    from gfm.data.files import read_matte

    try:
        if kind == "image":
            read_image(path)
        else:
            read_matte(path)
    except InputError as error:
        return str(error)
    return None


def _check_file(path: Path, kind: str, decode: bool) -> tuple[Header | None, list[Problem]]:
    """Header (and full decode) of one file. Returns ``(header or None, problems)``."""
    try:
        header = read_header(path, apply_exif=(kind == "image"))
    except InputError as error:
        return None, [Problem(path, "unreadable", str(error))]
    if kind != "image":
        problem = alpha_mode_problem(header.mode)
        if problem:
            what = "trimap" if kind == "trimap" else "alpha matte"
            return header, [Problem(path, "alpha-not-8bit", f"{path}: {problem.replace('alpha matte', what)}")]
    if decode:
        reason = _decode_problem(path, kind)
        if reason:
            return None, [Problem(path, "unreadable", reason)]
    return header, []


def _check_trimap_values(path: Path) -> list[Problem]:
    from gfm.data.files import read_matte

    try:
        values = np.unique(read_matte(path))
    except InputError:
        return []  # already reported
    bad = values[~np.isin(values, (0, 128, 255))]
    if bad.size:
        return [Problem(path, "trimap-values", f"{path}: trimap values {bad[:8].tolist()} besides 0/128/255")]
    return []


def _small(path: Path, header: Header, min_side: int) -> list[Problem]:
    h, w = header.shape
    if min_side and min(h, w) < min_side:
        return [Problem(path, "too-small", f"{path}: {w}x{h}, shorter side {min(h, w)} < {min_side}")]
    return []


def check_matting_split(
    split: MattingSplit, *, decode: bool = True, min_side: int = 0, tick: Callable[[], None] | None = None
) -> tuple[int, list[Problem]]:
    """Check one matting split. Returns ``(files checked, problems)``."""
    problems = [Problem(p.path, p.kind, p.message) for p in split.problems]
    if not split.samples and not split.problems:
        problems.append(Problem(split.root, "empty", f"{split.root} ({split.name}): no image/alpha pairs"))
    n = 0
    for sample in split.samples:
        headers: dict[str, Header] = {}
        for kind, path in (("image", sample.image), ("alpha", sample.alpha), ("trimap", sample.trimap)):
            if path is None:
                continue
            n += 1
            header, found = _check_file(path, kind, decode)
            problems += found
            if header is not None and not found:
                headers[kind] = header
                if kind == "trimap" and decode:
                    problems += _check_trimap_values(path)
        if "image" in headers:
            problems += _small(sample.image, headers["image"], min_side)
            for kind in ("alpha", "trimap"):
                if kind in headers and headers[kind].shape != headers["image"].shape:
                    ih, iw = headers["image"].shape
                    h, w = headers[kind].shape
                    problems.append(
                        Problem(
                            headers[kind].path,
                            "size-mismatch",
                            f"{headers[kind].path}: {kind} is {w}x{h} but image {sample.image.name} is {iw}x{ih}",
                        )
                    )
        if tick:
            tick()
    return n, problems


def check_image_split(
    split: ImageSplit, *, decode: bool = True, min_side: int = 0, tick: Callable[[], None] | None = None
) -> tuple[int, list[Problem]]:
    """Check a folder of images (backgrounds). Returns ``(files checked, problems)``."""
    problems: list[Problem] = []
    if not split.images:
        problems.append(Problem(split.root, "empty", f"{split.root} ({split.name}): no images found"))
    by_folder: dict[Path, list[Path]] = {}
    for path in split.images:
        by_folder.setdefault(path.parent, []).append(path)
    for files in by_folder.values():  # x.jpg + x.png: perhaps a photo and its matte, which the flat layout names apart
        hint = same_stem_hint(files)
        if hint:
            problems.append(Problem(files[0].parent, "duplicate-stem", f"{files[0].parent}: {hint}"))
    for path in split.images:
        header, found = _check_file(path, "image", decode)
        problems += found
        if header is not None and not found:
            problems += _small(path, header, min_side)
        if tick:
            tick()
    return len(split.images), problems


def _splits(root: Path, layout: str) -> Iterable[MattingSplit | ImageSplit]:
    if layout in ("am2k", "p3m", "pairs", "flat"):
        return matting_splits(root, layout)
    if layout == "bg20k":
        return [bg20k_split(root, s) for s in ("train", "testval")]
    return [background_split(root, layout=layout)]


def check_dataset(
    root: str | os.PathLike[str],
    layout: str | None = None,
    *,
    decode: bool = True,
    min_side: int = 0,
    progress: bool = False,
) -> CheckReport:
    """Check every split of the dataset at ``root``.

    Args:
        root: dataset folder.
        layout: one of :data:`gfm.data.layouts.LAYOUTS`; detected when ``None``.
        decode: decode every file fully (finds truncated files; slower) rather
            than reading headers only.
        min_side: report images whose shorter side is below this (0: no check).
        progress: show a progress bar on stderr.
    """
    root = Path(root)
    layout = layout or detect_layout(root)
    report = CheckReport(root, layout)
    splits = list(_splits(root, layout))
    total = sum(len(s.samples) if isinstance(s, MattingSplit) else len(s.images) for s in splits)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, desc="checking", unit="sample", leave=False)
    tick = bar.update if bar is not None else None
    try:
        for split in splits:
            if isinstance(split, MattingSplit):
                n, problems = check_matting_split(split, decode=decode, min_side=min_side, tick=tick)
            else:
                n, problems = check_image_split(split, decode=decode, min_side=min_side, tick=tick)
            report.counts[split.name] = n
            report.problems += problems
    finally:
        if bar is not None:
            bar.close()
    return report
