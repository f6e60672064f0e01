"""What following the README leaves in a clone is ignored by git."""

from __future__ import annotations

import fnmatch
from pathlib import Path

from gfm.data.layouts import CACHE_DIR_NAME

ROOT = Path(__file__).parents[2]


def _ignored_dirs() -> list[str]:
    lines = (ROOT / ".gitignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_the_prepare_cache_next_to_the_examples_is_ignored() -> None:
    """`gfm prepare foregrounds examples` writes examples/gfm-cache/ (any depth)."""
    patterns = _ignored_dirs()
    wanted = f"{CACHE_DIR_NAME}/"
    assert any(p == wanted or (not p.startswith("/") and fnmatch.fnmatch(wanted, p)) for p in patterns), patterns
    # the README's own outputs are covered too
    assert {"/runs/", "/out/", ".venv/"} <= set(patterns)
