"""``gfm compose FOREGROUNDS BACKGROUNDS OUT``: write a composite set (RSSN or a baseline)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gfm.cli._arguments import add_progress_option, number, positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compose",
        help="compose foregrounds with backgrounds into a training set (RSSN, COMP-BG20K, COMP-COCO)",
        description=(
            "Compose every foreground of a matting dataset with K distinct backgrounds and write the "
            "images, alphas, foregrounds, backgrounds and a manifest of every random choice. The same "
            "seed gives the same files. An unreadable foreground or background is skipped, listed in the "
            "manifest's failures and reported (exit code 1; --strict stops instead); the manifest is kept "
            "up to date as the run goes, so an interrupted run's manifest lists exactly what was written. "
            "Rerunning into the same folder replaces the previous set (the files its manifest lists are "
            "deleted first); a folder holding other files is refused."
        ),
    )
    parser.add_argument("foregrounds", help="matting dataset (AM-2k, P3M-10k, or image + alpha folders)")
    parser.add_argument("backgrounds", help="background set (BG-20k, COCO, any folder of images)")
    parser.add_argument("out", help="output folder")
    parser.add_argument("--route", choices=("rssn", "bg20k", "coco"), default="rssn",
                        help="rssn (default) or a plain-blending baseline")
    parser.add_argument("--k", type=positive_int, default=5, help="backgrounds per foreground (default 5)")
    parser.add_argument("--seed", type=number(int, minimum=0, maximum=2**32 - 1), default=0, help="random seed (default 0)")
    parser.add_argument("--split", help="foreground split (default: train)")
    parser.add_argument("--bg-split", help="BG-20k split (default: train)")
    parser.add_argument("--limit", type=positive_int, help="compose only the first N foregrounds")
    parser.add_argument("--fg-method", choices=("cf", "ml", "fast"), default="cf",
                        help="cached foreground estimate: cf (closed form, the paper, default), ml (pymatting's multi-level) "
                        "or fast (the multi-level energy on the transition band, what gfm matte uses: a fraction of ml's time)")
    parser.add_argument("--denoiser", choices=("bm3d", "nlm"), default="bm3d", help="cached denoiser of the rssn route: bm3d (the paper, default) or nlm")
    parser.add_argument("--cache-dir", type=Path, help="foregrounds' cache (default: FOREGROUNDS/gfm-cache)")
    parser.add_argument("--bg-cache-dir", type=Path, help="backgrounds' cache (default: BACKGROUNDS/gfm-cache)")
    parser.add_argument("--compute-missing", action="store_true",
                        help="compute foregrounds / denoised images missing from the cache (and cache them); the time it "
                        "will take is estimated and printed first")
    parser.add_argument("--contact-sheet", action="store_true", help="also write OUT/contact_sheet.jpg")
    parser.add_argument("--strict", action="store_true",
                        help="stop at the first unreadable foreground or background (default: skip it, list it, exit 1)")
    add_progress_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gfm.data.cache import Cache, CacheReader, default_cache_dir
    from gfm.data.layouts import background_split, matting_split
    from gfm.data.materialise import compose_set

    foregrounds = matting_split(args.foregrounds, args.split)
    backgrounds = background_split(args.backgrounds, args.bg_split)
    cache = CacheReader(
        Cache(args.cache_dir or default_cache_dir(args.foregrounds)),
        args.fg_method,
        args.denoiser,
        compute_missing=args.compute_missing,
        background_cache=Cache(args.bg_cache_dir or default_cache_dir(args.backgrounds)),
    )
    if args.compute_missing:  # hours of closed form and BM3D are said before they start
        from gfm.data.compose import route_config
        from gfm.data.workload import advice, compose_workload

        config = route_config(args.route)
        samples = foregrounds.samples[: args.limit] if args.limit else foregrounds.samples
        work = compose_workload(samples, backgrounds.images, Path(backgrounds.root), cache, k=args.k,
                                p_denoise_fg=config.p_denoise_fg, p_denoise_bg=config.p_denoise_bg)
        if work.rows:
            tips = advice(work, args.fg_method, args.denoiser if config.p_denoise_fg or config.p_denoise_bg else None, "--fg-method")
            print(f"gfm compose: computing what the cache lacks: {work.describe()} on this kind of CPU"
                  f"{'; ' + tips if tips else ''}", file=sys.stderr, flush=True)
    earlier_sheet = Path(args.out) / "contact_sheet.jpg"
    earlier_sheet = earlier_sheet if (Path(args.out) / "manifest.json").is_file() and earlier_sheet.is_file() else None
    manifest = compose_set(foregrounds, backgrounds, args.out, cache, route=args.route, k=args.k, seed=args.seed,
                           limit=args.limit, progress=not args.no_progress, strict=args.strict)
    failures = manifest["failures"]
    print(f"{args.out}: {len(manifest['samples'])} composites, {len(failures)} unreadable file(s) skipped "
          f"({args.route}, k={args.k}, seed={args.seed})", file=sys.stderr)
    for failure in failures:
        print(f"  skipped: {failure['reason']}", file=sys.stderr)
    if args.contact_sheet:
        from gfm.data.contact_sheet import contact_sheet
        from gfm.io import write_image

        sheet = contact_sheet(args.out, manifest["samples"])
        path = Path(args.out) / "contact_sheet.jpg"
        write_image(path, sheet, quality=90)
        print(f"contact sheet: {path}", file=sys.stderr)
    elif earlier_sheet is not None:  # it showed the previous set
        earlier_sheet.unlink()
        print(f"removed {earlier_sheet} (it showed the previous composites; --contact-sheet makes a new one)", file=sys.stderr)
    return 1 if failures else 0
