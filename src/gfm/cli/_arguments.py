"""Argument types shared by the commands."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TypeVar

N = TypeVar("N", int, float)


def number(
    kind: type[N] = int,  # type: ignore[assignment]
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
) -> Callable[[str], N]:
    """argparse type: a number in a range, the one check of every numeric flag.

    ``kind`` is ``int`` (whole numbers) or ``float`` (finite: ``nan`` and ``inf`` are
    refused); ``minimum`` / ``maximum`` are inclusive bounds, ``above`` an exclusive
    lower bound. The message says what was expected and what was given, e.g.
    ``argument --port: must be from 0 to 65535, got 99999``.

    Example::

        parser.add_argument("--port", type=number(int, minimum=0, maximum=65535))
    """
    noun = "a whole number" if kind is int else "a number"
    if minimum is not None and maximum is not None:
        span = f"from {minimum:g} to {maximum:g}"
    elif above is not None:
        span = f"above {above:g}" + (f" and at most {maximum:g}" if maximum is not None else "")
    elif minimum is not None:
        span = f"{minimum:g} or more"
    elif maximum is not None:
        span = f"at most {maximum:g}"
    else:
        span = ""
    expected = f"{noun} {span}".strip()

    def parse(text: str) -> N:
        try:
            value = kind(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum) or (above is not None and value <= above):
            raise argparse.ArgumentTypeError(f"must be {span}, got {text.strip()}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


#: argparse type: an integer of 1 or more (``--threads 0`` is refused, not ignored).
positive_int = number(int, minimum=1)
#: argparse type: an integer of 0 or more.
non_negative_int = number(int, minimum=0)
#: argparse type: a finite number above 0 (``nan``, ``inf``, ``0`` refused).
positive_float = number(float, above=0.0)


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


__all__ = ["add_progress_option", "non_negative_int", "number", "pixel_count", "positive_float", "positive_int"]
