"""Shared fixtures. Test data lives in tests/data (never ../shared): the demo AM-2k
pairs (copied by ``am2k_copy``, so that caches are written under tmp, never into the
repository) and synthetic backgrounds."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from synthetic import write_backgrounds

from gfm.compiled_cache import numba_cache_dir

# One numba cache for the whole run and its subprocesses, the user's (fixed before any test
# points GFM_HOME elsewhere): compiled once, not once per temporary GFM_HOME.
os.environ.setdefault("NUMBA_CACHE_DIR", str(numba_cache_dir()))
# Single-photo runs use PyTorch, as the tests of every other feature were written for (and
# export nothing into their GFM_HOME); tests/integration/test_fast_start.py turns the quick
# start on where it tests it.
os.environ["GFM_FAST_START"] = "0"

DEMO = Path(__file__).resolve().parent / "data" / "am2k"


@pytest.fixture(scope="session", autouse=True)
def private_weights_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test runs with an empty weights cache of its own ($GFM_HOME), never the user's:
    a guide cached there would change what gfm matte does by default (--guide auto)."""
    home = tmp_path_factory.mktemp("gfm_home")
    before = os.environ.get("GFM_HOME")
    os.environ["GFM_HOME"] = str(home)
    yield home
    if before is None:
        os.environ.pop("GFM_HOME", None)
    else:
        os.environ["GFM_HOME"] = before


@pytest.fixture()
def am2k_copy(tmp_path: Path) -> Path:
    """The demo pairs at tmp/am2k/{original, mask}: a ``pairs`` layout."""
    dst = tmp_path / "am2k"
    shutil.copytree(DEMO, dst)
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


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return Path(__file__).parent / "data"
