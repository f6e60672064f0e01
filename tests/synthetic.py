"""Synthetic test images (importable from any test: tests/ is on sys.path)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

BACKGROUND_SHAPES = [(300, 450), (480, 320), (256, 256), (200, 600), (360, 540), (420, 280)]


def make_background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A textured RGB image with no salient object: smooth colour field + lines."""
    field = rng.uniform(0, 255, (max(2, h // 40), max(2, w // 40), 3)).astype(np.float32)
    image = cv2.resize(field, (w, h), interpolation=cv2.INTER_CUBIC)
    for _ in range(6):
        p1 = (int(rng.integers(w)), int(rng.integers(h)))
        p2 = (int(rng.integers(w)), int(rng.integers(h)))
        cv2.line(image, p1, p2, tuple(float(c) for c in rng.uniform(0, 255, 3)), int(rng.integers(1, 4)))
    image += rng.normal(0, 3, image.shape).astype(np.float32)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def write_backgrounds(folder: Path, shapes=BACKGROUND_SHAPES, seed: int = 0) -> list[Path]:
    from gfm.io import write_image

    rng = np.random.default_rng(seed)
    paths = []
    for i, (h, w) in enumerate(shapes):
        path = folder / f"bg_{i:02d}.jpg"
        write_image(path, make_background(rng, h, w))
        paths.append(path)
    return paths
