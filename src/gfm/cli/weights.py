"""``gfm weights``: list, download, import and locate the released checkpoints."""

from __future__ import annotations

import argparse
import sys

from gfm.cli._arguments import add_progress_option

_DESCRIPTION = """\
Manage the released GFM checkpoints and the guides (segmentation models for
gfm matte --guide, e.g. isnet-general-use) in the local cache ($GFM_HOME/weights,
default: the platform's user cache folder, e.g. ~/.cache/gfm/weights).

Every file is checked against its SHA-256: the registry's when one is
published, else the hash recorded at the first download or import
(known_hashes.json in the cache); guides against the MD5 their publisher gives
(rembg's) or the SHA-256 of a known copy (the fp16 ISNet of npm
@imgly/background-removal-data). Downloads resume after dropped connections
and never leave a partial file under the final name.

examples:
  gfm weights list
  gfm weights download gfm-r34-tt
  gfm weights import ~/Downloads/gfm_r34_tt.pth --name gfm-r34-tt
  gfm weights download isnet-general-use
  gfm weights import isnet_fp16.onnx --name isnet-general-use
  gfm weights path gfm-r34-tt
"""

_EPILOG = """\
environment:
  GFM_HOME               cache root (weights go to $GFM_HOME/weights)
  GFM_WEIGHTS_BASE_URL   download from a mirror serving files by name
                         ($GFM_WEIGHTS_BASE_URL/gfm_r34_tt.pth)
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "weights",
        help="list, download, import and locate released GFM weights",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    listing = actions.add_parser(
        "list",
        help="show the registered weights and whether they are cached",
        description="Show every registered checkpoint: name, variant (backbone-RoSTa), training set, "
        "licence, and its size when it is in the cache. The default is marked with '*'.",
    )
    listing.set_defaults(func=_run_list)

    download = actions.add_parser(
        "download",
        help="download weights into the cache (verified)",
        description="Download checkpoints into the cache, check their SHA-256 and print their paths. "
        "Cached files are verified, not downloaded again, unless --force.",
    )
    download.add_argument("names", nargs="+", metavar="NAME", help="registry name(s), see `gfm weights list`")
    download.add_argument("--force", action="store_true", help="download again even if the file is cached")
    download.add_argument("--url", help="download from this URL instead (one NAME only)")
    add_progress_option(download, dest="quiet")
    download.set_defaults(func=_run_download)

    importing = actions.add_parser(
        "import",
        help="register a checkpoint file obtained elsewhere",
        description="Copy FILE (a .pth, or the zip Google Drive serves) into the cache as the weights "
        "NAME. Its SHA-256 is checked against the registry's or the recorded one, or recorded if "
        "none is known. FILE itself is left untouched.",
    )
    importing.add_argument("file", metavar="FILE", help="the checkpoint (.pth) or a zip holding it")
    importing.add_argument("--name", required=True, metavar="NAME", help="registry name, see `gfm weights list`")
    importing.add_argument(
        "--force",
        action="store_true",
        help="accept a file whose hash differs from the one recorded earlier, and record the new "
        "hash (a hash published in the registry is always enforced)",
    )
    importing.set_defaults(func=_run_import)

    path = actions.add_parser(
        "path",
        help="print the cached file of some weights",
        description="Print the path of the cached, verified checkpoint NAME (exit status 2 and a "
        "message saying how to get it when it is not cached). Never downloads.",
    )
    path.add_argument("name", metavar="NAME", help="registry name, see `gfm weights list`")
    path.set_defaults(func=_run_path)


def _validator(name: str):  # -> Callable[[Path], None]
    """A strict load of the file into the entry's network: every parameter assigned.

    A checkpoint of another variant is refused with what to type instead (the
    library's message names Python arguments)."""

    def validate(path) -> None:  # noqa: ANN001
        from gfm.errors import CheckpointError
        from gfm.hub import get_weights, list_weights

        entry = get_weights(name)
        if entry.is_guide:  # a segmentation model: it must load and have an image in and a mask out
            from gfm.inference.guide import check_guide_file

            check_guide_file(path)
            return
        from gfm.models.checkpoint import load_weights, resolve_checkpoint
        from gfm.models.registry import create_model

        try:
            load_weights(create_model(entry.backbone, entry.rosta), path, rosta=entry.rosta)
        except CheckpointError:
            variant = resolve_checkpoint(path, rosta=entry.rosta).variant
            if variant is None or variant.lower() == entry.variant.lower():
                raise
            names = [e.name for e in list_weights() if e.variant.lower() == variant.lower()]
            where = (f"import it under that variant's name: `gfm weights import FILE --name {names[0]}`" if names
                     else "no registered weights name has that variant; use the file directly: `gfm matte --model FILE`")
            raise CheckpointError(f"the file is {variant}, not {entry.variant}; {where}") from None

    return validate


def _size(num_bytes: int) -> str:
    """Decimal units, as file managers show them: ``"212.4 MB"``."""
    value = float(num_bytes)
    for unit in ("B", "KB", "MB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def _run_list(args: argparse.Namespace) -> int:
    from gfm.hub import DEFAULT_WEIGHTS, list_weights
    from gfm.hub.cache import cache_file

    rows = [("NAME", "VARIANT", "STRATEGY", "TRAINED ON", "LICENCE", "CACHED")]
    for entry in list_weights():
        path = cache_file(entry)
        cached = _size(path.stat().st_size) if path.is_file() else "no"
        if entry.bundled:
            cached = f"bundled ({cached})" if path.is_file() else "bundled file missing"
        marker = "*" if entry.name == DEFAULT_WEIGHTS else ""
        strategy = "-" if entry.is_guide else entry.strategy
        rows.append((entry.name + marker, entry.variant, strategy, entry.training_set.split(" (")[0], entry.licence, cached))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    from gfm.hub import weights_dir

    print(f"\n* default. STRATEGY: what gfm matte uses without --strategy (measured best). A guide (--guide NAME) "
          f"steers GFM's glance; with --guide auto gfm matte uses isnet-general-use once it is cached. Cache: {weights_dir()}")
    return 0


def _run_download(args: argparse.Namespace) -> int:
    from gfm.errors import ConfigError
    from gfm.hub import download_weights

    if args.url and len(args.names) > 1:
        raise ConfigError("--url needs exactly one NAME")
    for name in args.names:
        path = download_weights(
            name,
            force=args.force,
            progress=not args.quiet and sys.stderr.isatty(),
            url=args.url,
            validate_checkpoint=_validator(name),
        )
        print(path)
    return 0


def _run_import(args: argparse.Namespace) -> int:
    from gfm.hub import import_weights

    print(import_weights(args.file, args.name, force=args.force, validate_checkpoint=_validator(args.name)))
    return 0


def _run_path(args: argparse.Namespace) -> int:
    from gfm.hub import weights_path

    print(weights_path(args.name))
    return 0
