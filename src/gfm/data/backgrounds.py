"""Build a BG-20k-style background set from any photo collection
(``gfm prepare backgrounds SRC DST``).

As the paper built BG-20k (Sect. 4.2): keep images whose shorter side is at
least 1080 px, resize them to a 1080 px shorter side (aspect ratio kept), and
drop duplicates: exact ones (identical decoded pixels) and near ones
(perceptual hashes within a Hamming distance; the paper used a deep matching
model). Larger images are considered first, so of a group of duplicates the
largest is kept. Every dropped file is reported with its reason.

Not done (the paper used YOLO-v3 plus a manual pass): rejecting images that
contain salient objects. Look through the result before training on it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from gfm.data.files import read_header
from gfm.data.layouts import list_images
from gfm.errors import InputError

MIN_SIDE = 1080
HASH_THRESHOLD = 6  # bits out of 64; resized / recompressed copies differ by 0-4


def phash(image: np.ndarray) -> int:
    """64-bit perceptual hash (DCT hash) of an RGB or gray ``uint8`` image.

    The image is reduced to 32 x 32 gray, transformed by a 2-D DCT, and the
    8 x 8 lowest frequencies (the DC term replaced by the next one) are
    compared with their median: one bit each. Resizing, recompression and
    small colour changes leave it nearly unchanged.
    """
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    small = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].flatten()
    low[0] = low[1]  # the DC term only says how bright the image is
    bits = low > np.median(low)
    return int(np.packbits(bits).view(">u8")[0])


_POPCOUNT8 = np.array([bin(i).count("1") for i in range(256)], np.uint8)


def hamming(a: int, hashes: np.ndarray) -> np.ndarray:
    """Hamming distances between hash ``a`` and an array of ``uint64`` hashes."""
    x = np.bitwise_xor(hashes, np.uint64(a))
    return _POPCOUNT8[x.view(np.uint8)].reshape(-1, 8).sum(axis=1)


@dataclass
class BackgroundReport:
    """What :func:`prepare_backgrounds` kept and dropped."""

    kept: list[tuple[Path, Path]] = field(default_factory=list)  # (source, written file)
    dropped: list[tuple[Path, str, str]] = field(default_factory=list)  # (source, reason, detail)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {"kept": len(self.kept)}
        for _, reason, _ in self.dropped:
            out[reason] = out.get(reason, 0) + 1
        return out

    def to_json(self) -> dict[str, object]:
        return {
            "counts": self.counts(),
            "kept": [{"source": str(s), "written": str(d)} for s, d in self.kept],
            "dropped": [{"source": str(s), "reason": r, "detail": d} for s, r, d in self.dropped],
        }


def _out_name(path: Path, src: Path) -> str:
    rel = path.relative_to(src).with_suffix("")
    return "__".join(rel.parts) + ".jpg"


def resize_shorter_side(image: np.ndarray, side: int) -> np.ndarray:
    """Resize so that the shorter side is ``side`` px, aspect ratio kept (area filter)."""
    h, w = image.shape[:2]
    if min(h, w) == side:
        return image
    if h <= w:
        new_h, new_w = side, max(side, round(w * side / h))
    else:
        new_h, new_w = max(side, round(h * side / w)), side
    interp = cv2.INTER_AREA if side < min(h, w) else cv2.INTER_CUBIC
    return cv2.resize(image, (new_w, new_h), interpolation=interp)


def prepare_backgrounds(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    min_side: int = MIN_SIDE,
    side: int = MIN_SIDE,
    threshold: int = HASH_THRESHOLD,
    quality: int = 95,
    progress: bool = True,
) -> BackgroundReport:
    """Filter, resize and de-duplicate the images under ``src`` into ``dst``.

    Args:
        src: folder of photos (searched recursively).
        dst: output folder; images are written as ``<relative path with "__">.jpg``,
            and ``report.json`` lists what was kept and dropped.
        min_side: drop images whose shorter side is below this.
        side: shorter side of the written images.
        threshold: near-duplicate if the perceptual hashes differ in at most
            this many of 64 bits (0: exact duplicates only).
        quality: JPEG quality of the written images.

    Returns:
        :class:`BackgroundReport`. Reasons: ``unreadable``, ``too-small``,
        ``duplicate`` (same pixels), ``near-duplicate``.
    """
    from tqdm import tqdm

    from gfm.io import read_image, write_image

    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise InputError(f"{src}: folder not found")
    # DST may lie inside SRC: its files are never inputs.
    files = [p for p in list_images(src, recursive=True) if dst.resolve() not in p.resolve().parents]
    if not files:
        raise InputError(f"{src}: no images found")
    report = BackgroundReport()
    sized: list[tuple[int, Path]] = []
    for path in files:
        try:
            header = read_header(path)
        except InputError as error:
            report.dropped.append((path, "unreadable", str(error)))
            continue
        if min(header.shape) < min_side:
            report.dropped.append(
                (path, "too-small", f"{header.width}x{header.height}: shorter side {min(header.shape)} < {min_side}")
            )
            continue
        sized.append((header.width * header.height, path))
    # Largest first, so that the kept copy of a duplicate group is the largest.
    sized.sort(key=lambda t: (-t[0], str(t[1])))
    digests: dict[str, Path] = {}
    hashes = np.zeros(0, np.uint64)
    hash_owner: list[Path] = []
    used_names: set[str] = set()
    for _, path in tqdm(sized, desc="backgrounds", unit="image", disable=not progress):
        try:
            image = read_image(path)
        except InputError as error:
            report.dropped.append((path, "unreadable", str(error)))
            continue
        digest = hashlib.sha256(image.tobytes() + str(image.shape).encode()).hexdigest()
        if digest in digests:
            report.dropped.append((path, "duplicate", f"same pixels as {digests[digest]}"))
            continue
        h = phash(image)
        if threshold > 0 and hashes.size:
            dist = hamming(h, hashes)
            j = int(np.argmin(dist))
            if dist[j] <= threshold:
                report.dropped.append(
                    (path, "near-duplicate", f"perceptual hash within {int(dist[j])} bits of {hash_owner[j]}")
                )
                continue
        digests[digest] = path
        hashes = np.append(hashes, np.uint64(h))
        hash_owner.append(path)
        name = _out_name(path, src)
        while name in used_names:  # a.jpg and a.png in one folder
            name = name[: -len(".jpg")] + "_.jpg"
        used_names.add(name)
        out = dst / name
        write_image(out, resize_shorter_side(image, side), quality=quality)
        report.kept.append((path, out))
    dst.mkdir(parents=True, exist_ok=True)
    from gfm.io import atomic_write

    with atomic_write(dst / "report.json") as tmp:
        tmp.write_text(json.dumps(report.to_json(), indent=1))
    return report
