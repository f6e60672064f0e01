"""Write the documentation's generated facts from the code: the options of every command
and the weights registry. Run it after changing a command's options or the registry:

    .venv/bin/python docs/generate.py            # rewrite the generated sections of docs/*.md
    .venv/bin/python docs/generate.py --check    # exit 1 and name the stale sections (what the tests do)

A page asks for a generated section with a pair of markers, and everything between
them is replaced::

    <!-- generated: options gfm matte -->
    <!-- end generated -->

Kinds: ``options gfm COMMAND [SUBCOMMAND]`` (a table of the command's options, from
its argparse parser: the help text users see), ``registry`` (the weights and guides of
:mod:`gfm.hub.registry`) and ``api MODULE`` (the module's public names: signatures and
the first sentence of each docstring).
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


def api_table(module_name: str) -> str:
    """The public names of a module (its ``__all__``) as a Markdown table: each one's
    signature and the first sentence of its docstring."""
    import importlib
    import inspect

    module = importlib.import_module(module_name)
    rows = ["| name | what it is |", "|---|---|"]
    for name in module.__all__:
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            try:
                signature = str(inspect.signature(value)).replace("'", "")  # postponed annotations are strings
            except (TypeError, ValueError):
                signature = "(...)"
            prefix = "class " if inspect.isclass(value) else ""
            shown = f"`{prefix}{name}{signature}`" if len(signature) <= 60 else f"`{prefix}{name}(...)`"
            summary = _markdown(first_sentence(inspect.getdoc(value) or ""))
            summary += "." if summary and not summary.endswith(".") else ""
        else:
            shown, summary = f"`{name}`", _describe_constant(value)
        rows.append(f"| {_cell(shown)} | {_cell(summary)} |")
    return "\n".join(rows)


def _markdown(text: str) -> str:
    """reStructuredText roles and literals of a docstring as Markdown code spans."""
    def role(match: re.Match[str]) -> str:
        target = match.group(1).split("<")[0].strip()
        return f"`{target.lstrip('~').split('.')[-1] if target.startswith('~') else target}`"

    text = re.sub(r":[a-z]+:`([^`]+)`", role, text)
    return re.sub(r"``([^`]+)``", r"`\1`", text)


def _describe_constant(value: object) -> str:
    """A constant in a few words: its value, or the names it holds."""
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return "by name: " + ", ".join(f"`{key}`" for key in value)
    if isinstance(value, (tuple, list)) and len(repr(value)) > 60:
        return f"{len(value)} values: " + ", ".join(f"`{item!r}`" for item in value[:4]) + (" ..." if len(value) > 4 else "")
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"an array of {value.size} values"
    return f"`{value!r}`" if len(repr(value)) <= 60 else f"a {type(value).__name__}"


def first_sentence(text: str) -> str:
    """The description's first sentence (up to a full stop or a colon ending a line), without its end."""
    return re.split(r"(?<!e\.g)(?<!i\.e)(?<! al)\.(?:\s|$)|:\n", text.strip(), maxsplit=1)[0].strip()


def render(what: str) -> str:
    """The generated text for one marker (without the markers)."""
    if what == "registry":
        return registry_table()
    if what.startswith("api "):
        return api_table(what[len("api "):])
    if what.startswith("options "):
        name = what[len("options "):]
        parsers = command_parsers()
        if name not in parsers:
            raise SystemExit(f"docs: no command {name!r} (known: {', '.join(sorted(parsers))})")
        parser = parsers[name]
        summary = " ".join(first_sentence(parser.description or "").split())
        return f"**`{name}`**" + (f": {summary}." if summary else "") + "\n\n" + options_table(parser)
    raise SystemExit(f"docs: unknown generated section {what!r} (options gfm COMMAND, registry, api MODULE)")


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
