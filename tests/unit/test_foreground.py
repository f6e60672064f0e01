"""Cutouts and composites from foreground colours and an alpha matte."""

from __future__ import annotations

import builtins
import sys
import time

import numpy as np
import pytest

from gfm.inference.foreground import composite, cutout


def test_cutout_keeps_colours_where_visible_and_blacks_out_transparent_pixels() -> None:
    rng = np.random.default_rng(0)
    foreground = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    alpha = np.linspace(0.0, 1.0, 42, dtype=np.float32).reshape(6, 7)
    alpha[0, :3] = 0.001  # rounds to 0 in 8 bits: invisible, stored black
    rgba = cutout(foreground, alpha)
    a8 = np.rint(alpha * 255).astype(np.uint8)
    assert rgba.dtype == np.uint8 and rgba.shape == (6, 7, 4)
    np.testing.assert_array_equal(rgba[..., 3], a8)
    visible = a8 > 0
    np.testing.assert_array_equal(rgba[visible, :3], foreground[visible])
    assert (rgba[~visible, :3] == 0).all() and (~visible).sum() == 3


def test_cutout_in_bands_equals_the_plain_definition(monkeypatch: pytest.MonkeyPatch) -> None:
    import gfm.inference.foreground as foreground_module

    monkeypatch.setattr(foreground_module, "_BAND_PIXELS", 7 * 50)  # bands of 7 rows: 5 bands and a short one
    rng = np.random.default_rng(1)
    foreground = rng.integers(0, 256, (38, 50, 3), dtype=np.uint8)
    alpha = rng.choice([0.0, 0.001, 0.3, 1.0], (38, 50)).astype(np.float32)
    a8 = np.rint(alpha * 255).astype(np.uint8)
    expected = np.dstack([np.where((a8 > 0)[..., None], foreground, 0), a8]).astype(np.uint8)
    np.testing.assert_array_equal(cutout(foreground, alpha), expected)


def test_composite_blends_over_a_colour() -> None:
    foreground = np.full((2, 2, 3), 200, np.uint8)
    alpha = np.array([[0.0, 0.25], [0.5, 1.0]], np.float32)
    out = composite(foreground, alpha, (0, 100, 40))
    expected = np.rint(alpha[..., None] * 200 + (1 - alpha[..., None]) * np.array([0, 100, 40])).astype(np.uint8)
    np.testing.assert_array_equal(out, expected)


def test_slow_pymatting_import_is_announced(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first import after installation compiles pymatting (up to a minute):
    the callback fires when the import is slow, and not when it is quick."""
    import gfm.data.foreground as fg

    calls: list[str] = []
    real_import = builtins.__import__

    def slow_import(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name == "pymatting":
            time.sleep(0.3)
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "pymatting", raising=False)
    monkeypatch.setattr(builtins, "__import__", slow_import)
    fg.load_pymatting(on_slow=lambda: calls.append("slow"), slow_after=0.05)
    assert calls == ["slow"]
    monkeypatch.setattr(builtins, "__import__", real_import)
    fg.load_pymatting(on_slow=lambda: calls.append("again"), slow_after=0.05)  # cached: quick
    time.sleep(0.1)
    assert calls == ["slow"]


def test_missing_pymatting_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    import gfm.data.foreground as fg
    from gfm.errors import ConfigError

    monkeypatch.setitem(sys.modules, "pymatting", None)  # import raises ImportError
    with pytest.raises(ConfigError, match=r"pip install pymatting.*--foreground none"):
        fg.load_pymatting()
