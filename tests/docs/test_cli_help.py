"""The command line's help and the documentation agree, and every default is stated."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from pages import PAGES, README, blocks, gfm_arguments, shell_commands

from gfm.cli.main import build_parser


def _parsers(parser: argparse.ArgumentParser, name: str = "gfm") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


PARSERS = dict(_parsers(build_parser()))


def test_every_default_is_stated_in_the_help() -> None:
    unstated = []
    for name, parser in PARSERS.items():
        for action in parser._actions:
            if not action.option_strings or action.help in (None, argparse.SUPPRESS):
                continue
            default = action.default
            if default in (None, False, [], argparse.SUPPRESS) or isinstance(action, argparse._VersionAction):
                continue
            if "default" not in action.help.lower():
                unstated.append(f"{name} {action.option_strings[0]} (default {default!r})")
    assert not unstated, unstated


def test_every_command_with_a_progress_bar_takes_the_same_switches() -> None:
    for name, parser in PARSERS.items():
        # (gfm serve's --quiet/-q silences its access log: it has no progress bar)
        flags = {flag for action in parser._actions if "progress" in (action.help or "") for flag in action.option_strings}
        if flags & {"--no-progress", "--quiet", "-q"}:
            assert {"--no-progress", "--quiet", "-q"} <= flags, name
    assert "--no-progress" in {f for a in PARSERS["gfm train"]._actions for f in a.option_strings}


def _documented_commands() -> list[tuple[str, str]]:
    """``(where, arguments)`` of every `gfm ...` command line of the README's and docs/' shell
    blocks (torchrun's ``-m gfm.cli.main`` too), run by the docs tests or not."""
    commands = []
    for page in PAGES:
        for block in blocks(page):
            if block.language != "bash":
                continue
            for line in shell_commands(block):
                arguments = gfm_arguments(line)
                if arguments is not None and "|" not in line and ">" not in line:
                    commands.append((block.where, arguments))
    return commands


@pytest.mark.parametrize(("where", "command"), _documented_commands())
def test_documented_commands_parse(where: str, command: str) -> None:
    """What the pages tell a user to type is accepted by the parser as written."""
    try:
        build_parser().parse_args(shlex.split(command))
    except SystemExit as error:  # argparse refuses with exit code 2
        pytest.fail(f"{where}: `gfm {command}` is refused by the parser (exit {error.code})")


def test_help_examples_parse() -> None:
    """The examples in each command's --help epilog parse too (and name no missing example folder)."""
    root = README.parent
    for name, parser in PARSERS.items():
        for line in (parser.epilog or "").splitlines():
            line = line.split("  #")[0].strip()
            if not line.startswith("gfm ") or "|" in line:
                continue
            try:
                build_parser().parse_args(shlex.split(line)[1:])
            except SystemExit:
                pytest.fail(f"{name} --help example `{line}` does not parse")
            for word in shlex.split(line):
                if word.startswith("examples"):
                    assert (root / word).exists(), f"{name} --help names {word}, which the clone does not have"


def test_max_pixels_takes_the_form_its_default_is_written_in() -> None:
    args = build_parser().parse_args(["matte", "a.jpg", "--out", "o", "--max-pixels", "1000x1000"])
    assert args.max_pixels == 1_000_000
    assert build_parser().parse_args(["matte", "a.jpg", "--out", "o", "--max-pixels", "640000"]).max_pixels == 640_000


def test_evaluate_without_pred_or_model_runs_what_matte_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """`--strategy ensemble` means the same models in gfm matte and gfm evaluate."""
    from gfm.cli.main import main

    monkeypatch.setenv("GFM_HOME", str(tmp_path / "empty-cache"))  # no weights: the error names the model tried
    data = Path(__file__).parents[1] / "data" / "am2k"
    for command in ("matte", "evaluate"):
        target = ["examples/original", "--out", str(tmp_path / "o")] if command == "matte" else ["--data", str(data), "--out", str(tmp_path / "e")]
        assert main([command, *target, "--strategy", "ensemble", "-q"]) == 2
        assert "gfm-r34-tt" in capsys.readouterr().err
