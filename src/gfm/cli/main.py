"""Entry point of the ``gfm`` command.

Each sub-command lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func``. Modules keep
heavy imports (torch, OpenCV) inside their functions so that ``gfm --help``
stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from gfm.errors import GFMError, describe_os_error

# Sub-command modules, in the order ``gfm --help`` lists them.
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "gfm.cli.matte",
    "gfm.cli.serve",
    "gfm.cli.evaluate",
    "gfm.cli.train",
    "gfm.cli.compose",
    "gfm.cli.prepare",
    "gfm.cli.data",
    "gfm.cli.weights",
    "gfm.cli.models",
    "gfm.cli.convert",
    "gfm.cli.export",
    "gfm.cli.profile",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gfm",
        description="Glance and Focus Matting: end-to-end image matting, composition and evaluation.",
    )
    from gfm import __version__

    parser.add_argument("--version", action="version", version=f"gfm {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


# Commands that have written and closed everything when they return. For them the
# `gfm` command skips the interpreter's teardown of PyTorch and numba, which took
# 0.5-0.9 s after every `gfm matte photo.jpg` here (a third of its start-up).
FAST_EXIT_COMMANDS = frozenset({"matte", "export"})


def main(argv: Sequence[str] | None = None, *, fast_exit: bool = False) -> int:
    """Run one ``gfm`` command; returns its exit status.

    ``fast_exit`` (the ``gfm`` executable): for :data:`FAST_EXIT_COMMANDS`,
    flush the output and end the process at once instead of returning.
    """
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:  # `gfm` alone: what it can do, not an error
        parser.print_help()
        return 0
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # reported with the usage of the sub-command they were given to
        _innermost_parser(parser, argv).error(f"unrecognized arguments: {' '.join(unknown)}")
    status = _run(args)
    if fast_exit and args.command in FAST_EXIT_COMMANDS:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    return status


def _innermost_parser(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.ArgumentParser:
    """The parser of the innermost sub-command named in ``argv`` (``gfm weights list ...``:
    that of ``gfm weights list``)."""
    current = parser
    for token in argv:
        choices = next((a.choices for a in current._actions if isinstance(a, argparse._SubParsersAction)), None)
        if choices is not None and token in choices:
            current = choices[token]
    return current


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.func(args) or 0)
    except GFMError as error:
        print(f"gfm {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a full disk, a read-only folder ... that no command foresaw: one line, not a traceback
        print(f"gfm {args.command}: error: {describe_os_error(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gfm {args.command}: interrupted", file=sys.stderr)
        return 130


def console_main() -> None:
    """The ``gfm`` executable."""
    sys.exit(main(fast_exit=True))


if __name__ == "__main__":  # pragma: no cover
    console_main()
