"""The README's Python snippets, run as written (the text is read from README.md).

Each ```python block runs in a fresh folder holding ``photo.jpg`` (an example
photo) and ``hint.png`` (painted hints for it: transparent, with a foreground
square). The snippets' own calls (``gfm.remove``, ``Predictor.from_name``)
resolve the default model through :func:`gfm.inference.models.default_model_name`:

* when the bundled default (gfm-lite, ``src/gfm/weights``) is installed and
  verifies, they run with it, as a user's would;
* otherwise (a checkout without the weights file) a tiny network stands in: it
  is registered as weights of its own in a temporary ``$GFM_HOME`` and made
  the default, so it is still resolved, verified and loaded through the
  registry and the weights cache.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

import gfm
from gfm.hub import WeightsEntry, get_weights, register_weights, unregister_weights
from gfm.hub.cache import cache_file
from gfm.inference import models
from gfm.inference.remove import clear_loaded_models

ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"


def python_blocks(text: str) -> list[str]:
    """The bodies of the ```python fenced blocks of a Markdown text."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


BLOCKS = python_blocks(README.read_text())


def test_the_readme_has_python_snippets() -> None:
    assert len(BLOCKS) >= 4
    assert any("gfm.remove(" in b for b in BLOCKS) and any("Predictor.from_name(" in b for b in BLOCKS)


def _bundled_default_usable() -> bool:
    """Whether the shipped default weights are installed and pass their size / SHA-256 check."""
    from gfm.errors import CheckpointError
    from gfm.hub import weights_path

    try:
        weights_path(models.default_model_name())
    except CheckpointError:
        return False
    return True


@pytest.fixture
def default_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The name of the default weights the snippets get: the bundled default, or a tiny stand-in."""
    monkeypatch.setenv("GFM_HOME", str(tmp_path / "gfm-home"))
    clear_loaded_models()
    if _bundled_default_usable():
        yield models.default_model_name()
        clear_loaded_models()
        return
    default = get_weights(models.default_model_name())
    entry = WeightsEntry("readme-test-default", "r34", "TT", default.normalization, "MIT", "test", ("https://127.0.0.1/x",),
                         "readme-test-default.pth", None, None, "none")
    register_weights(entry)
    monkeypatch.setattr(models, "default_model_name", lambda: entry.name)
    path = cache_file(entry)
    path.parent.mkdir(parents=True)
    gfm.save_checkpoint(gfm.create_model("tiny", "TT"), path)  # our format: its config, not the entry's r34, is loaded
    try:
        yield entry.name
    finally:
        clear_loaded_models()
        unregister_weights(entry.name)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_snippet_runs(index: int, tmp_path: Path, default_weights: str, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(ROOT / "examples" / "original" / "sample2.jpg", work / "photo.jpg")
    hint = Image.new("LA", (800, 1200), (0, 0))  # transparent: the network decides ...
    hint.paste((255, 255), (300, 400, 500, 800))  # ... except a painted foreground square
    hint.save(work / "hint.png")
    monkeypatch.chdir(work)
    namespace: dict[str, object] = {"__name__": "readme"}
    exec(compile(BLOCKS[index], f"README.md python block {index + 1}", "exec"), namespace)
    if "cutout" in namespace and hasattr(namespace["cutout"], "mode"):  # gfm.remove's result
        with Image.open(work / "cutout.png") as saved:
            assert saved.mode == "RGBA" and saved.size == (800, 1200)
    if "rgba" in namespace:
        result = namespace["result"]
        assert namespace["rgba"].shape == (1200, 800, 4) and result.alpha.shape == (1200, 800)  # type: ignore[attr-defined]
    if "png" in namespace:  # gfm.remove: bytes in, PNG bytes out
        assert isinstance(namespace["png"], bytes) and namespace["png"].startswith(b"\x89PNG\r\n\x1a\n")
    if "layers" in namespace:  # gfm.remove: an array in, an array out
        assert namespace["layers"].shape == (1200, 800, 4) and namespace["layers"].dtype.name == "uint8"  # type: ignore[attr-defined]
    if "fixed" in namespace:  # the guided correction: the painted square is foreground
        alpha = namespace["fixed"].alpha  # type: ignore[attr-defined]
        assert alpha.shape == (1200, 800) and (alpha[400:800, 300:500] == 1.0).all()
