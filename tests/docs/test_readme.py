"""The README's Python snippets, run as written (the text is read from README.md).

Each ```python block runs in a fresh folder holding ``photo.jpg`` (an example
photo). The default weights come from the weights cache as for a user: a tiny
network is placed in a temporary ``$GFM_HOME`` under the default entry's cache
file (real weights are hundreds of MB and not downloadable here), so the
snippets' own calls (``gfm.remove``, ``Predictor.from_name``) resolve, verify
and load it through the registry exactly as they would the real file.
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


@pytest.fixture
def default_weights_in_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny TT network as the default weights, in a temporary weights cache."""
    monkeypatch.setenv("GFM_HOME", str(tmp_path / "gfm-home"))
    entry = get_weights(models.default_model_name())
    if entry.sha256 is not None:  # a published hash: serve the tiny file under an entry of its own
        entry = WeightsEntry("readme-test-default", "r34", "TT", entry.normalization, "MIT", "test", ("https://127.0.0.1/x",),
                             "readme-test-default.pth", None, None, "none")
        register_weights(entry)
        monkeypatch.setattr(models, "default_model_name", lambda: entry.name)
    path = cache_file(entry)
    path.parent.mkdir(parents=True)
    gfm.save_checkpoint(gfm.create_model("tiny", "TT"), path)
    clear_loaded_models()
    yield path
    clear_loaded_models()
    unregister_weights("readme-test-default")


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_snippet_runs(index: int, tmp_path: Path, default_weights_in_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(ROOT / "examples" / "original" / "sample2.jpg", work / "photo.jpg")
    monkeypatch.chdir(work)
    namespace: dict[str, object] = {"__name__": "readme"}
    exec(compile(BLOCKS[index], f"README.md python block {index + 1}", "exec"), namespace)
    if "cutout" in namespace and hasattr(namespace["cutout"], "mode"):  # gfm.remove's result
        with Image.open(work / "cutout.png") as saved:
            assert saved.mode == "RGBA" and saved.size == (800, 1200)
    if "rgba" in namespace:
        result = namespace["result"]
        assert namespace["rgba"].shape == (1200, 800, 4) and result.alpha.shape == (1200, 800)  # type: ignore[attr-defined]
