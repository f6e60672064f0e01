"""Fixtures of the data tests: the demo AM-2k pairs (copied, so that caches
are written under tmp, never into the repository) and synthetic backgrounds."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

DEMO = Path(__file__).resolve().parents[2] / "data" / "am2k"


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


BACKGROUND_SHAPES = [(300, 450), (480, 320), (256, 256), (200, 600), (360, 540), (420, 280)]


def write_backgrounds(folder: Path, shapes=BACKGROUND_SHAPES, seed: int = 0) -> list[Path]:
    from gfm.io import write_image

    rng = np.random.default_rng(seed)
    paths = []
    for i, (h, w) in enumerate(shapes):
        path = folder / f"bg_{i:02d}.jpg"
        write_image(path, make_background(rng, h, w))
        paths.append(path)
    return paths


@pytest.fixture()
def am2k_copy(tmp_path: Path) -> Path:
    """The three demo pairs sample1, 3, 8 at tmp/am2k/{original, mask}: a ``pairs`` layout."""
    dst = tmp_path / "am2k"
    for sub, suffix in (("original", ".jpg"), ("mask", ".png")):
        (dst / sub).mkdir(parents=True)
        for n in ("sample1", "sample3", "sample2"):
            shutil.copy(DEMO / sub / f"{n}{suffix}", dst / sub / f"{n}{suffix}")
    return dst


@pytest.fixture(scope="session")
def backgrounds_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("backgrounds")
    write_backgrounds(folder)
    return folder


@pytest.fixture(scope="session")
def demo_pairs() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, image uint8 RGB, alpha uint8)`` of the three demo samples."""
    from gfm.data.files import read_pair

    out = []
    for n in ("sample1", "sample3", "sample2"):
        image, alpha = read_pair(DEMO / "original" / f"{n}.jpg", DEMO / "mask" / f"{n}.png")
        out.append((n, image, alpha))
    return out
