"""What following the README leaves in a clone is ignored by git."""

from __future__ import annotations

import fnmatch
import re
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


def _make_install_commands(tmp_path: Path, *variables: str) -> str:
    import shutil
    import subprocess

    import pytest

    if shutil.which("make") is None:
        pytest.skip("make is not installed (the Makefile is what `make test` uses)")
    venv = tmp_path / "venv"  # no stamp there: make prints the whole installation
    done = subprocess.run(["make", "-n", "install", f"VENV={venv}", *variables], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_installs_the_cpu_build_without_a_gpu_and_says_which(tmp_path: Path) -> None:
    cpu = _make_install_commands(tmp_path, "TORCH=cpu")
    assert "--no-deps torch==2.13.0 --extra-index-url https://download.pytorch.org/whl/cpu" in cpu  # torch alone
    assert "(CPU build)" in cpu  # the installed build is printed
    cuda = _make_install_commands(tmp_path, "TORCH=cuda")
    assert "torch==2.13.0" in cuda and "whl/cpu" not in cuda
    chosen = _make_install_commands(tmp_path, "TORCH_INDEX=https://download.pytorch.org/whl/cu126")
    assert "--extra-index-url https://download.pytorch.org/whl/cu126" in chosen
    # auto: the CPU build where no NVIDIA GPU is listed (PATH without nvidia-smi)
    import os
    import subprocess

    env = dict(os.environ, PATH="/usr/bin:/bin")
    auto = subprocess.run(["make", "-n", "install", f"VENV={tmp_path / 'v2'}"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=60)
    assert "whl/cpu" in auto.stdout or Path("/usr/bin/nvidia-smi").exists()



def test_the_distribution_has_a_name_of_its_own() -> None:
    """`gfm` on PyPI is an unrelated Markdown package: ours is gfm-matting, imported as gfm."""
    import importlib.metadata
    import re

    import gfm

    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^name = "gfm-matting"$', pyproject, re.MULTILINE), "pyproject.toml names another distribution"
    distribution = importlib.metadata.distribution("gfm-matting")  # the installed one (make install)
    assert distribution.version == gfm.__version__
    scripts = {e.name: e.value for e in distribution.entry_points if e.group == "console_scripts"}
    assert scripts == {"gfm": "gfm.cli.main:console_main"}


def test_the_pages_name_only_notes_that_are_in_the_repository() -> None:
    """The README once sent readers to a SPEC.md section that is not here (links: test_pages.py)."""
    from pages import PAGES

    named = [(page, name) for page in PAGES for name in re.findall(r"`([A-Z][A-Z_]*\.md)`", page.read_text())]
    missing = [(page.name, name) for page, name in named if not (ROOT / name).exists() and not (page.parent / name).exists()]
    assert not missing, missing


def test_the_readme_screenshot_shows_the_current_page() -> None:
    """docs/serve.png records what it shows (docs/make_screenshot.py): the page's files and the
    model line. It once showed an older page (hybrid); retake it when either changes."""
    import hashlib
    import json

    from PIL import Image

    from gfm.hub.registry import DEFAULT_WEIGHTS, get_weights

    with Image.open(ROOT / "docs" / "serve.png") as shot:
        page, model = shot.info.get("gfm-page"), json.loads(shot.info.get("gfm-model", "{}"))
    digest = hashlib.sha256()
    for path in sorted((ROOT / "src" / "gfm" / "serve" / "static").iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    retake = "retake it: .venv/bin/python docs/make_screenshot.py"
    assert page == digest.hexdigest(), f"the page changed since docs/serve.png was taken; {retake}"
    assert model.get("strategy") == get_weights(DEFAULT_WEIGHTS).strategy, f"the default strategy changed; {retake}"
