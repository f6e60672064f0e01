"""A contact sheet of a composed set: one row a sample, showing the composite,
its alpha, the foreground colours shown over gray where alpha > 0, and the
background that was blended, with the sample's random choices written above."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

LABEL_H = 18


def _fit(image: np.ndarray, height: int) -> np.ndarray:
    h, w = image.shape[:2]
    width = max(1, round(w * height / h))
    interp = cv2.INTER_AREA if height < h else cv2.INTER_LINEAR
    out = cv2.resize(image, (width, height), interpolation=interp)
    return out if out.ndim == 3 else np.repeat(out[..., None], 3, axis=2)


def describe(choices: dict[str, Any]) -> str:
    """Short text of a sample's choices: ``blur 40 | noise | dn-fg``."""
    parts = []
    if choices.get("blur_kernel"):
        parts.append(f"blur {choices['blur_kernel']}")
    if choices.get("noise"):
        parts.append("noise")
    if choices.get("denoise_fg"):
        parts.append("dn-fg")
    if choices.get("denoise_bg"):
        parts.append("dn-bg")
    return " | ".join(parts) or "plain"


def contact_sheet(
    out_dir: str | os.PathLike[str], records: Sequence[dict[str, Any]], *, rows: int = 12, height: int = 160
) -> np.ndarray:
    """Build the sheet from a composed set (:func:`gfm.data.materialise.compose_set`).

    Args:
        out_dir: the composed set's folder.
        records: manifest ``samples`` entries (the first ``rows`` are shown).
        height: thumbnail height in pixels.

    Returns:
        ``uint8 (H, W, 3)`` RGB image.
    """
    from gfm.io import read_image

    from gfm.data.files import read_matte

    out_dir = Path(out_dir)
    rows_img, texts = [], []
    for rec in records[:rows]:
        f = rec["files"]
        image = read_image(out_dir / f["image"])
        alpha = read_matte(out_dir / f["alpha"])
        fg = read_image(out_dir / f["fg"])
        bg = read_image(out_dir / f["bg"])
        a = alpha[..., None].astype(np.float32) / 255.0
        cutout = (fg * a + 128 * (1 - a)).round().astype(np.uint8)
        tiles = [_fit(x, height) for x in (image, alpha, cutout, bg)]
        rows_img.append(
            np.concatenate([np.pad(t, ((0, 0), (0, 4), (0, 0)), constant_values=255) for t in tiles], axis=1)
        )
        texts.append(f"{rec['name']}: {describe(rec['choices'])}   bg {Path(rec['background']).name}")
    width = max([r.shape[1] for r in rows_img], default=400)
    header = np.full((LABEL_H + 4, width, 3), 255, np.uint8)
    cv2.putText(header, "composite | alpha | fg over gray | blended bg", (4, LABEL_H - 3),
                cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    parts = [header]
    for row, text in zip(rows_img, texts, strict=True):
        label = np.full((LABEL_H, width, 3), 255, np.uint8)
        cv2.putText(label, text, (4, LABEL_H - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        parts += [label, np.pad(row, ((0, 4), (0, width - row.shape[1]), (0, 0)), constant_values=255)]
    return np.concatenate(parts, axis=0)
