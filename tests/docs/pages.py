"""The documentation as the docs tests read it: the pages, their fenced code blocks (with
the note above each), their links and their headings' anchors.

A block is run by the tests unless the line above it says why it cannot be here::

    <!-- not run: needs the internet -->

and a shell block that talks to a server says so, so that it runs beside a live one::

    <!-- run beside gfm serve -->
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = (README, *sorted(DOCS.glob("*.md")))

#: Languages of code blocks: run by the tests (python, bash), or not code at all (text: a citation).
CODE_LANGUAGES = ("python", "bash")
NOT_CODE = ("text",)
NOT_RUN = re.compile(r"<!-- not run: (?P<why>[^>]+?) -->")
BESIDE_SERVER = "<!-- run beside gfm serve -->"

_FENCE = re.compile(r"^```(?P<language>\S*)\n(?P<body>.*?)^```\s*$", re.S | re.M)


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: Path
    line: int  # of the opening fence, 1-based
    language: str
    body: str
    note: str  # the HTML comment on the line above the fence, or ""

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def not_run_because(self) -> str | None:
        found = NOT_RUN.fullmatch(self.note)
        return found.group("why") if found else None

    @property
    def beside_server(self) -> bool:
        return self.note == BESIDE_SERVER


def blocks(page: Path) -> list[Block]:
    """The page's fenced code blocks, in order."""
    text = page.read_text()
    found = []
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        note = before if before.startswith("<!--") else ""
        found.append(Block(page, line, match.group("language"), match.group("body"), note))
    return found


def prose(page: Path) -> str:
    """The page's text without its code blocks and inline code (where links are not links)."""
    text = _FENCE.sub("", page.read_text())
    return re.sub(r"`[^`\n]*`", "", text)


def links(page: Path) -> list[str]:
    """Targets of the page's Markdown links and images (``[text](target)``)."""
    return re.findall(r"!?\[[^\]]*\]\(([^)\s]+)\)", prose(page))


def anchors(page: Path) -> set[str]:
    """The anchors of the page's headings, as GitHub makes them (lower case, punctuation
    dropped, spaces to hyphens; a repeated heading gets -1, -2 ...)."""
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6} (.+?)\s*$", _FENCE.sub("", page.read_text()), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def shell_commands(block: Block) -> list[str]:
    """The block's command lines, continuations joined and comments dropped."""
    commands = []
    for line in block.body.replace("\\\n", " ").splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if line:
            commands.append(line)
    return commands


def gfm_arguments(command: str) -> str | None:
    """What follows ``gfm`` in a command line (``gfm``, ``.venv/bin/gfm`` or torchrun's
    ``-m gfm.cli.main``), or None for another command."""
    for prefix in (".venv/bin/gfm ", "gfm "):
        if command.startswith(prefix):
            return command[len(prefix):]
    if command.startswith("torchrun ") and " -m gfm.cli.main " in command:
        return command.split(" -m gfm.cli.main ", 1)[1]
    return None
