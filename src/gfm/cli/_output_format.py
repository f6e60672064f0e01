"""``gfm matte``'s output options, shared with ``--watch``: which outputs (``--outputs``)
and the file format of the colour ones (``--format png|webp --quality Q|lossless``)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gfm.inference.batch import ImageFormat, MatteJob

#: WebP quality when ``--quality`` is not given: small files for the web, alpha kept lossless.
DEFAULT_WEBP_QUALITY = 90


LOSSLESS = "lossless"


def quality(text: str) -> int | str:
    """argparse type: ``1..100`` or ``lossless``."""
    if text.strip().lower() == LOSSLESS:
        return LOSSLESS
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 100 or 'lossless', got {text!r}") from None
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be from 1 to 100 (or 'lossless'), got {value}")
    return value


def add_format_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--format`` and ``--quality`` to ``gfm matte``."""
    parser.add_argument(
        "--format",
        choices=("png", "webp"),
        help="file format of the cutout, foreground and composite outputs of a folder run: png (default, lossless) or "
        "webp (transparency kept; often several times smaller); alpha and trimap stay PNG, the preview JPEG. "
        "With -o FILE the file's suffix decides",
    )
    parser.add_argument(
        "--quality",
        type=quality,
        metavar="1..100|lossless",
        help=f"WebP quality (default {DEFAULT_WEBP_QUALITY}; the transparency is always kept lossless) or 'lossless' "
        "for lossless WebP; also the JPEG quality of -o FILE.jpg (default 95)",
    )


def image_format(args: argparse.Namespace, single_file: Path | None = None) -> ImageFormat:
    """The :class:`~gfm.inference.batch.ImageFormat` ``--format`` and ``--quality`` ask for;
    for ``-o FILE`` (``single_file``), the file's suffix is the format.

    Raises:
        InputError: ``--format`` with ``-o FILE`` of another suffix.
    """
    from gfm.errors import InputError
    from gfm.inference.batch import IMAGE_FORMATS, ImageFormat

    suffix = IMAGE_FORMATS[args.format] if args.format else ".png"
    if single_file is not None:
        given = single_file.suffix.lower()
        if args.format and given and given != suffix:
            raise InputError(f"--format {args.format} with -o {single_file}: the file's suffix chooses its format; "
                             f"name it {single_file.with_suffix(suffix).name} or leave --format out")
        suffix = given or ".png"
    if args.quality == LOSSLESS:
        return ImageFormat(suffix=suffix, quality=None)
    if args.quality is None:
        return ImageFormat(suffix=suffix, quality=DEFAULT_WEBP_QUALITY if suffix == ".webp" else None)
    return ImageFormat(suffix=suffix, quality=int(args.quality))


def parse_outputs(text: str) -> list[str]:
    """The output kinds ``--outputs`` names (comma-separated; each once, in the order given)."""
    from gfm.errors import InputError
    from gfm.inference.batch import OUTPUT_KINDS

    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in OUTPUT_KINDS]
    if unknown or not kinds:
        raise InputError(f"unknown --outputs {', '.join(unknown) or repr(text)}; choose among {', '.join(OUTPUT_KINDS)}")
    return list(dict.fromkeys(kinds))


def with_format(jobs: list[MatteJob], fmt: ImageFormat) -> list[MatteJob]:
    """``jobs`` writing their colour outputs in ``fmt``."""
    return [dataclasses.replace(job, image_format=fmt) for job in jobs]


__all__ = ["DEFAULT_WEBP_QUALITY", "LOSSLESS", "add_format_options", "image_format", "parse_outputs", "quality", "with_format"]
