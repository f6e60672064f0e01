"""Write the documentation's generated facts from the code: the options of every command
and the weights registry. Run it after changing a command's options or the registry:

    .venv/bin/python docs/generate.py            # rewrite the generated sections of docs/*.md
    .venv/bin/python docs/generate.py --check    # exit 1 and name the stale sections (what the tests do)

A page asks for a generated section with a pair of markers, and everything between
them is replaced::

    <!-- generated: options gfm matte -->
    <!-- end generated -->

Kinds: ``options gfm COMMAND [SUBCOMMAND]`` (a table of the command's options, from
its argparse parser: the help text users see) and ``registry`` (the weights and
guides of :mod:`gfm.hub.registry`).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
SECTION = re.compile(r"(<!-- generated: (?P<what>[^>]*?) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)


def command_parsers() -> dict[str, argparse.ArgumentParser]:
    """Every command's parser by its full name (``"gfm matte"``, ``"gfm weights list"`` ...)."""
    from gfm.cli.main import build_parser

    found: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, name: str) -> None:
        found[name] = parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    walk(sub, f"{name} {sub_name}")

    walk(build_parser(), "gfm")
    return found


def _cell(text: str) -> str:
    """Text for one Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _usage_of(action: argparse.Action, formatter: argparse.HelpFormatter) -> str:
    if not action.option_strings:  # a positional argument
        return f"`{formatter._metavar_formatter(action, action.dest)(1)[0]}`"
    if action.nargs == 0:
        return ", ".join(f"`{flag}`" for flag in action.option_strings)
    argument = formatter._format_args(action, action.dest.upper())
    return ", ".join(f"`{flag} {argument}`" for flag in action.option_strings)


def options_table(parser: argparse.ArgumentParser) -> str:
    """The parser's arguments as a Markdown table (``-h`` left out), help texts expanded."""
    formatter = parser._get_formatter()
    rows = ["| argument | what it does |", "|---|---|"]
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)) or action.help == argparse.SUPPRESS:
            continue
        rows.append(f"| {_cell(_usage_of(action, formatter))} | {_cell(formatter._expand_help(action) if action.help else '')} |")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            names = ", ".join(f"`{name}`" for name in action.choices)
            rows.append(f"| {names} | sub-commands (below) |")
    return "\n".join(rows)


def registry_table() -> str:
    """The weights registry as a Markdown table: every entry, what it is and where it comes from."""
    from gfm.hub.registry import DEFAULT_WEIGHTS, list_weights

    rows = ["| name | what | strategy | trained on | licence | paper's figures | comes from |", "|---|---|---|---|---|---|---|"]
    for entry in list_weights():
        what = "ISNet guide (ONNX)" if entry.kind == "guide" else f"GFM {entry.backbone}-{entry.rosta}"
        name = f"`{entry.name}`" + (" (default)" if entry.name == DEFAULT_WEIGHTS else "")
        strategy = entry.strategy if entry.kind != "guide" else "-"
        if entry.kind != "guide" and entry.guided_strategy:
            strategy += f" ({entry.guided_strategy} with a guide)"
        figures = ", ".join(f"{metric} {value}" for metric, value in entry.paper_metrics) or "-"
        origin = "bundled in the package" if entry.package_file else "download: " + ", ".join(
            re.sub(r"^https?://([^/]+)/.*$", r"\1", url) for url in entry.urls)
        rows.append(f"| {name} | {what} | {strategy} | {_cell(entry.training_set)} | {_cell(entry.licence)} | {_cell(figures)} | {origin} |")
    return "\n".join(rows)


def first_sentence(text: str) -> str:
    """The description's first sentence (up to a full stop or a colon ending a line), without its end."""
    return re.split(r"(?<!e\.g)(?<!i\.e)\.(?:\s|$)|:\n", text.strip(), maxsplit=1)[0].strip()


def render(what: str) -> str:
    """The generated text for one marker (without the markers)."""
    if what == "registry":
        return registry_table()
    if what.startswith("options "):
        name = what[len("options "):]
        parsers = command_parsers()
        if name not in parsers:
            raise SystemExit(f"docs: no command {name!r} (known: {', '.join(sorted(parsers))})")
        parser = parsers[name]
        summary = " ".join(first_sentence(parser.description or "").split())
        return f"**`{name}`**" + (f": {summary}." if summary else "") + "\n\n" + options_table(parser)
    raise SystemExit(f"docs: unknown generated section {what!r} (options gfm COMMAND, registry)")


def sections(text: str) -> Iterator[re.Match[str]]:
    """The generated sections of a page's text."""
    return SECTION.finditer(text)


def regenerate(text: str) -> str:
    """The page's text with every generated section rewritten."""
    return SECTION.sub(lambda m: f"{m.group(1)}{render(m.group('what'))}\n{m.group(4)}", text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when a section is stale")
    args = parser.parse_args(argv)
    stale = []
    for page in PAGES:
        text = page.read_text()
        new = regenerate(text)
        if new != text:
            stale.append(page.relative_to(ROOT))
            if not args.check:
                page.write_text(new)
    verb = "stale" if args.check else "rewritten"
    for page in stale:
        print(f"{verb}: {page}")
    if args.check and stale:
        print("run: .venv/bin/python docs/generate.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
