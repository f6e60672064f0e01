"""Argument types shared by the commands."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """argparse type: an integer of 1 or more (``--threads 0`` is refused, not ignored)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def add_progress_option(parser: argparse.ArgumentParser, dest: str = "no_progress") -> None:
    """The one progress switch of every command: ``--no-progress``, ``--quiet`` or ``-q``
    (the same flag under the names users bring from other tools)."""
    parser.add_argument("--no-progress", "--quiet", "-q", dest=dest, action="store_true", help="no progress bar")


def pixel_count(text: str) -> int:
    """argparse type: a pixel budget as a count (``2560000``) or ``WIDTHxHEIGHT`` (``1600x1600``)."""
    parts = text.lower().replace(" ", "").split("x")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a pixel count (2560000) or WIDTHxHEIGHT (1600x1600), got {text!r}") from None
    if len(numbers) not in (1, 2):
        raise argparse.ArgumentTypeError(f"expected a pixel count (2560000) or WIDTHxHEIGHT (1600x1600), got {text!r}")
    if min(numbers) < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {text}")
    return numbers[0] * (numbers[1] if len(numbers) == 2 else 1)
