"""The documentation's structure: a short README that leads to every page, links and
anchors that resolve, code blocks that are run or say why not, generated facts that match
the code, and a README picture made from the current default model."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shlex
from pathlib import Path

import pytest
from pages import CODE_LANGUAGES, DOCS, NOT_CODE, PAGES, README, ROOT, anchors, blocks, links, shell_commands
from PIL import Image

#: The front door's length (the issue that split the README asked for about 200 lines).
README_MAX_LINES = 200


def _generator():  # docs/generate.py, imported from its path (docs/ is not a package)
    spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_is_a_front_door() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines: move details to a page of docs/"
    first_screen = "\n".join(lines[:45])
    assert "docs/cutout.jpg" in first_screen and "make test" in first_screen  # the picture and the set-up
    pages = {page.name for page in DOCS.glob("*.md") if page.name != "README.md"}
    assert all(f"docs/{name}" in first_screen for name in pages), "the first screen links every page"


def test_the_readme_leads_to_every_page() -> None:
    linked = {(README.parent / target.split("#")[0]).resolve() for target in links(README)}
    pages = {page.resolve() for page in DOCS.glob("*.md") if page.name != "README.md"}
    assert pages <= linked, sorted(str(p.relative_to(ROOT)) for p in pages - linked)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves(page: Path) -> None:
    """Relative links name a file of the repository, and their #anchor a heading of it."""
    broken = []
    for target in links(page):
        if re.match(r"[a-z]+://", target) or target.startswith("mailto:"):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists() or ROOT not in file.parents:
            broken.append(f"{target}: no such file in the repository")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading #{anchor} in {file.relative_to(ROOT)}")
    assert not broken, broken


def test_the_anchor_rule_is_githubs() -> None:
    page = DOCS / "speed.md"
    assert {"precision-auto-decided-by-numbers", "start-up", "a-photo-step-by-step"} <= anchors(page)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_code_block_is_run_or_says_why_not(page: Path) -> None:
    for block in blocks(page):
        assert block.language in CODE_LANGUAGES + NOT_CODE, f"{block.where}: a ```{block.language} block (use one of {CODE_LANGUAGES + NOT_CODE})"
        if block.language == "python":
            assert block.not_run_because is None, f"{block.where}: every Python block is run"
        if block.note:
            assert block.not_run_because is not None or block.beside_server, f"{block.where}: unknown note {block.note!r}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_scripts_that_blocks_not_run_name_exist(page: Path) -> None:
    """`python SCRIPT --flag ...` in a block that is not run: the script exists and knows its flags."""
    for block in blocks(page):
        if block.language != "bash" or block.not_run_because is None:
            continue
        for command in shell_commands(block):
            words = shlex.split(command)
            if words[0] != "python":
                continue
            script = ROOT / words[1]
            assert script.is_file(), f"{block.where}: {words[1]} is not in the repository"
            source = script.read_text()
            for flag in (w for w in words[2:] if w.startswith("--")):
                assert f'"{flag}"' in source or f"'{flag}'" in source, f"{block.where}: {words[1]} has no {flag}"


def test_the_generated_sections_match_the_code() -> None:
    generate = _generator()
    stale = [str(page.relative_to(ROOT)) for page in PAGES if generate.regenerate(page.read_text()) != page.read_text()]
    assert not stale, f"{stale}: run .venv/bin/python docs/generate.py"


def test_every_command_has_its_options_in_the_docs() -> None:
    generate = _generator()
    documented = {m.group("what") for page in PAGES for m in generate.sections(page.read_text())}
    parsers = generate.command_parsers()
    leaves = {name for name, parser in parsers.items() if name != "gfm" and not any(
        other.startswith(name + " ") for other in parsers)}
    missing = sorted(name for name in leaves if f"options {name}" not in documented)
    assert not missing, f"commands without a generated option table in docs/: {missing}"
    assert "registry" in documented


def test_the_generator_renders_help_texts_the_registry_and_the_api() -> None:
    generate = _generator()
    table = generate.render("options gfm matte")
    assert "| `--guide NAME\\|FILE.onnx\\|auto\\|none` |" in table and "Default auto" in table
    registry = generate.render("registry")
    assert "| `gfm-lite` (default) |" in registry and "isnet-general-use" in registry
    api = generate.render("api gfm.inference")
    assert "| `class Predictor(...)` | Runs one GFM model" in api and ":class:" not in api  # docstrings as Markdown
    with pytest.raises(SystemExit, match="no command"):
        generate.render("options gfm nothing")


def test_the_readme_picture_shows_the_current_default_model() -> None:
    """docs/cutout.jpg records what it shows (docs/make_figure.py): retake it when the
    default weights or the script change."""
    from gfm.hub.registry import DEFAULT_WEIGHTS, get_weights

    with Image.open(DOCS / "cutout.jpg") as picture:
        record = json.loads(picture.info["comment"])
        assert picture.width >= 2 * picture.height  # the photo and its cutout side by side
    retake = "retake it: .venv/bin/python docs/make_figure.py"
    assert record["model"] == DEFAULT_WEIGHTS and record["weights_sha256"] == get_weights(DEFAULT_WEIGHTS).sha256, retake
    assert record["script"] == hashlib.sha256((DOCS / "make_figure.py").read_bytes()).hexdigest(), retake
    assert (ROOT / record["photo"]).is_file()
