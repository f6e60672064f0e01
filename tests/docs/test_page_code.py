"""Every code block of the README and of docs/, run as written (the text is read from the pages).

Each page runs in a fresh folder of its own, its blocks in order (a later block may use
an earlier one's files), holding:

* ``photo.jpg`` (an example photo, 800x1200) and ``hint.png`` (painted hints for it:
  transparent, with a foreground square); ``cat.jpg`` (another, 800x535) and
  ``cat_trimap.png`` (a trimap of it, from its reference matte);
* ``photos/`` (the three example photos), ``examples/`` (a copy of the repository's) and
  ``backgrounds/`` (synthetic background images);
* ``.venv`` (a link to the environment running the tests, for ``.venv/bin/gfm``).

Python blocks run in this process; shell blocks in bash (``-e -o pipefail``), with this
environment's ``bin`` first on ``PATH``. The weights cache (``$GFM_HOME``) is the test
run's private one: the bundled default model, no guide. A block that cannot run here
says why on the line above it (``<!-- not run: ... -->``): then its ``gfm`` command lines
are checked against the parser (tests/docs/test_cli_help.py) and the scripts it names
against the repository (tests/docs/test_pages.py). A block marked ``<!-- run beside gfm
serve -->`` runs while a live ``gfm serve`` of the default model listens, its port in
place of 8000.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pages import PAGES, ROOT, Block, blocks
from PIL import Image

from gfm.inference.remove import clear_loaded_models

PAGES_WITH_CODE = [page for page in PAGES if any(b.language in ("python", "bash") and b.not_run_because is None for b in blocks(page))]


def _scratch_folder(work: Path) -> None:
    """The files the pages' blocks name (see the module docstring)."""
    from synthetic import write_backgrounds

    from gfm.metrics import trimap_from_alpha

    examples = ROOT / "examples"
    shutil.copytree(examples, work / "examples")
    shutil.copytree(examples / "original", work / "photos")
    shutil.copy(examples / "original" / "sample2.jpg", work / "photo.jpg")
    shutil.copy(examples / "original" / "sample6.jpg", work / "cat.jpg")
    hint = Image.new("LA", (800, 1200), (0, 0))  # transparent: the network decides ...
    hint.paste((255, 255), (300, 400, 500, 800))  # ... except a painted foreground square
    hint.save(work / "hint.png")
    with Image.open(examples / "mask" / "sample6.png") as mask:
        alpha = np.asarray(mask.convert("L"), dtype=np.float32) / 255
    Image.fromarray(trimap_from_alpha(alpha)).save(work / "cat_trimap.png")
    (work / "backgrounds").mkdir()
    write_backgrounds(work / "backgrounds")
    (work / ".venv").symlink_to(Path(sys.executable).parents[1])


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    work = tmp_path / "work"
    work.mkdir()
    _scratch_folder(work)
    monkeypatch.chdir(work)
    clear_loaded_models()
    yield work
    clear_loaded_models()


def _run_python(block: Block, work: Path) -> None:
    namespace: dict[str, object] = {"__name__": "docs"}
    exec(compile(block.body, block.where, "exec"), namespace)
    # What the blocks promise, checked where they name it.
    if "cutout" in namespace and hasattr(namespace["cutout"], "mode"):  # gfm.remove's result
        with Image.open(work / "cutout.png") as saved:
            assert saved.mode == "RGBA" and saved.size == (800, 1200), block.where
    if "rgba" in namespace:
        result = namespace["result"]
        assert namespace["rgba"].shape == (1200, 800, 4) and result.alpha.shape == (1200, 800), block.where  # type: ignore[attr-defined]
    if "png" in namespace:  # gfm.remove: bytes in, PNG bytes out
        assert isinstance(namespace["png"], bytes) and namespace["png"].startswith(b"\x89PNG\r\n\x1a\n"), block.where
    if "layers" in namespace:  # gfm.remove: an array in, an array out
        assert namespace["layers"].shape == (1200, 800, 4) and namespace["layers"].dtype.name == "uint8", block.where  # type: ignore[attr-defined]
    if "fixed" in namespace:  # the guided correction: the painted square is foreground
        alpha = namespace["fixed"].alpha  # type: ignore[attr-defined]
        assert alpha.shape == (1200, 800) and (alpha[400:800, 300:500] == 1.0).all(), block.where
    if "onnx_alpha" in namespace:
        assert namespace["onnx_alpha"].shape == (1200, 800) and namespace["onnx_rgba"].shape == (1200, 800, 4), block.where  # type: ignore[attr-defined]


def _run_bash(block: Block, work: Path, port: int | None) -> None:
    script = block.body
    if port is not None:
        script = script.replace("127.0.0.1:8000", f"127.0.0.1:{port}").replace("localhost:8000", f"localhost:{port}")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=work, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{block.where}: exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def _server_port(page: Path, stack: contextlib.ExitStack) -> int | None:
    """A live `gfm serve` for the page's blocks that ask for one (started once a page)."""
    if not any(b.beside_server and b.not_run_because is None for b in blocks(page)):
        return None
    pytest.importorskip("fastapi", reason="the serve extra: pip install 'gfm-matting[serve]'")
    from live_server import gfm_serve

    return stack.enter_context(gfm_serve("gfm-lite")).port  # type: ignore[arg-type]


@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_pages_code_runs(page: Path, scratch: Path) -> None:
    with contextlib.ExitStack() as stack:
        port = _server_port(page, stack)
        ran = 0
        for block in blocks(page):
            if block.not_run_because is not None or block.language not in ("python", "bash"):
                continue
            if block.language == "python":
                _run_python(block, scratch)
            else:
                _run_bash(block, scratch, port if block.beside_server else None)
            ran += 1
        assert ran


def test_the_readme_shows_the_python_call_and_the_main_job() -> None:
    """The front door's promises are among what runs: gfm.remove and the main job."""
    readme = [b for b in blocks(ROOT / "README.md") if b.not_run_because is None]
    assert any(b.language == "python" and "gfm.remove(" in b.body for b in readme)
    assert any(b.language == "bash" and "gfm matte examples/original" in b.body for b in readme)
