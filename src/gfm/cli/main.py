"""Entry point of the ``gfm`` command.

Each sub-command lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func``. Modules keep
heavy imports (torch, OpenCV) inside their functions so that ``gfm --help``
stays instant.
"""

from __future__ import annotations

import argparse
import importlib
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
