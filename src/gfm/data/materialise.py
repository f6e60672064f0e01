"""``gfm compose``: write a composite training set to disk.

For users who want to look at what RSSN produces, or to train elsewhere:
every foreground is composed with ``k`` distinct backgrounds, and the images,
alphas, blended foregrounds and backgrounds are written as PNGs with a
``manifest.json`` that records every random choice and the seed. The same
inputs and seed give the same files, byte for byte.

Layout of ``OUT``::

    image/NAME_K.png   composite (RGB)
    alpha/NAME_K.png   its matte (8-bit)
    fg/NAME_K.png      the foreground colours that were blended
    bg/NAME_K.png      the fitted (denoised, blurred) background that was blended
    manifest.json      seed, route, settings and per-sample choices

A foreground or background that cannot be read is skipped and listed in the
manifest's ``failures`` (``strict=True`` stops instead). The manifest is
written from the start and rewritten as the run goes (``"complete": false``
until the end), so an interrupted run leaves a manifest that lists exactly the
composites whose files were all written.

Rerunning into the same folder replaces the set: the files the previous run's
manifest lists are deleted before anything is written (so a smaller ``k`` or
fewer foregrounds leaves no stale file, and the folder never holds a file its
manifest does not list); files in those folders that no manifest of this
folder lists are never touched, and the run is refused before writing anything.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gfm.data.cache import CacheReader, image_key
from gfm.data.compose import RouteConfig, compose, route_config, sample_backgrounds, sample_choices
from gfm.data.files import read_pair
from gfm.data.layouts import ImageSplit, MattingSample, MattingSplit
from gfm.errors import InputError

MANIFEST_VERSION = 1
OUTPUT_FOLDERS: tuple[str, ...] = ("image", "alpha", "fg", "bg")

#: Longest time between two rewrites of ``manifest.json`` during a run.
MANIFEST_FLUSH_SECONDS = 30.0


def compose_set(
    foregrounds: MattingSplit,
    backgrounds: ImageSplit,
    out: str | os.PathLike[str],
    cache: CacheReader,
    *,
    route: str | RouteConfig = "rssn",
    k: int = 5,
    seed: int = 0,
    limit: int | None = None,
    progress: bool = True,
    on_sample: Callable[[dict[str, Any]], None] | None = None,
    strict: bool = False,
) -> dict[str, Any]:
    """Compose and write a set; returns the manifest (also written to ``out/manifest.json``).

    Args:
        foregrounds: matting split whose images give the foregrounds.
        backgrounds: background images.
        out: output folder (created).
        cache: foregrounds and denoised images (see :class:`CacheReader`).
        route: ``"rssn"``, ``"bg20k"``, ``"coco"`` or a :class:`RouteConfig`.
        k: distinct backgrounds per foreground.
        seed: seed of every random choice.
        limit: compose only the first ``limit`` foregrounds.
        strict: an unreadable foreground or background raises
            :class:`InputError` instead of being skipped and listed in the
            manifest's ``failures``.
    """
    from tqdm import tqdm

    from gfm.io import atomic_write

    config = route if isinstance(route, RouteConfig) else route_config(route)
    foregrounds.require_complete()
    backgrounds.require_nonempty()
    samples = foregrounds.samples[:limit] if limit else foregrounds.samples
    sample_backgrounds(len(backgrounds.images), k, np.random.default_rng(seed))  # refuse too few now
    out = Path(out)
    names = [s.name for s in samples]
    if len(set(names)) != len(names):
        raise InputError(f"{foregrounds.root}: foreground names repeat; output files would collide")
    planned = {f"{sub}/{name}_{slot}.png" for name in names for slot in range(k) for sub in OUTPUT_FOLDERS}
    previous = owned_files(out)
    foreign = sorted(set(existing_outputs(out)) - previous - planned)
    if foreign:
        raise InputError(
            f"{out}: holds {len(foreign)} file(s) that no gfm compose run of this folder wrote (e.g. {out / foreign[0]}); "
            "compose into an empty or new folder, or move them away"
        )
    # The previous run's set goes before the new manifest is written (listing nothing yet):
    # an interrupted rerun then leaves no file that its manifest does not list.
    for stale in sorted(previous):
        (out / stale).unlink(missing_ok=True)
    for sub in OUTPUT_FOLDERS:
        (out / sub).mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    manifest = _manifest(config, k, seed, cache, foregrounds, backgrounds, records, failures)

    def save(complete: bool) -> None:
        manifest["complete"] = complete
        with atomic_write(out / "manifest.json") as tmp:
            tmp.write_text(json.dumps(manifest, indent=1))

    def unreadable(path: Path, error: InputError) -> None:
        if strict:
            raise error
        failures.append({"file": str(path), "reason": str(error)})

    save(complete=False)  # from the start: the folder always says what it holds
    last_save = time.monotonic()
    complete = False
    try:
        for i, sample in enumerate(tqdm(samples, desc="composing", unit="foreground", disable=not progress)):
            if time.monotonic() - last_save >= MANIFEST_FLUSH_SECONDS:
                save(complete=False)
                last_save = time.monotonic()
            try:
                image, alpha = read_pair(sample.image, sample.alpha)
            except InputError as error:
                unreadable(sample.image, error)
                continue
            _compose_foreground(
                i, sample, image, alpha, backgrounds, cache, config, k, seed, out, records, unreadable, on_sample
            )
        complete = True
    finally:
        save(complete)  # also on an error or Ctrl-C: what was written is listed, and only that
    return manifest


def _compose_foreground(
    i: int,
    sample: MattingSample,
    image: np.ndarray,
    alpha: np.ndarray,
    backgrounds: ImageSplit,
    cache: CacheReader,
    config: RouteConfig,
    k: int,
    seed: int,
    out: Path,
    records: list[dict[str, Any]],
    unreadable: Callable[[Path, InputError], None],
    on_sample: Callable[[dict[str, Any]], None] | None,
) -> None:
    """The ``k`` composites of foreground ``i``; each is recorded once its four files are written."""
    from gfm.io import read_image, write_alpha, write_image

    fg, _ = cache.foreground(sample, image, alpha)
    chosen = sample_backgrounds(len(backgrounds.images), k, np.random.default_rng([seed, i]))
    fg_dn = None
    for slot, bg_index in enumerate(chosen.tolist()):
        bg_path = backgrounds.images[bg_index]
        try:
            background = read_image(bg_path)
        except InputError as error:
            unreadable(bg_path, error)  # this composite is left out; the seeds of the others do not change
            continue
        rng = np.random.default_rng([seed, i, 1 + slot])
        choices = sample_choices(rng, config, bg_index, background.shape[:2], alpha.shape)
        if choices.denoise_fg and fg_dn is None:
            fg_dn = cache.denoised_foreground(sample, fg)
        bg_dn = None
        if choices.denoise_bg:
            bg_dn = cache.denoised_background(image_key(bg_path, backgrounds.root), background)
        comp = compose(fg, alpha, background, choices, fg_denoised=fg_dn, bg_denoised=bg_dn,
                       noise_sigma=config.noise_sigma)
        name = f"{sample.name}_{slot}"
        files = {
            "image": f"image/{name}.png",
            "alpha": f"alpha/{name}.png",
            "fg": f"fg/{name}.png",
            "bg": f"bg/{name}.png",
        }
        write_image(out / files["image"], comp.image)
        write_alpha(out / files["alpha"], comp.alpha.astype(np.float32) / 255.0)
        write_image(out / files["fg"], comp.fg)
        write_image(out / files["bg"], comp.bg)
        record = {
            "name": name,
            "foreground_image": str(sample.image),
            "foreground_alpha": str(sample.alpha),
            "background": str(bg_path),
            "choices": choices.as_dict(),
            "files": files,
        }
        records.append(record)
        if on_sample:
            on_sample(record)


def _manifest(
    config: RouteConfig,
    k: int,
    seed: int,
    cache: CacheReader,
    foregrounds: MattingSplit,
    backgrounds: ImageSplit,
    records: list[dict[str, Any]],
    failures: list[dict[str, str]],
) -> dict[str, Any]:
    """The manifest's settings; ``records`` and ``failures`` are filled as the run goes."""
    from gfm._version import __version__

    return {
        "manifest_version": MANIFEST_VERSION,
        "gfm_version": __version__,
        "seed": seed,
        "route": config.name,
        "route_config": {
            "p_denoise_fg": config.p_denoise_fg,
            "p_denoise_bg": config.p_denoise_bg,
            "p_blur": config.p_blur,
            "blur_kernels": list(config.blur_kernels),
            "p_noise": config.p_noise,
            "noise_sigma": config.noise_sigma,
        },
        "k": k,
        "foreground_method": cache.fg_method,
        "denoiser": cache.denoiser,
        "foregrounds": str(foregrounds.root),
        "backgrounds": str(backgrounds.root),
        "n_backgrounds": len(backgrounds.images),
        "complete": False,
        "samples": records,
        "failures": failures,
    }


def existing_outputs(out: Path) -> list[str]:
    """Files under ``out``'s output folders, relative to ``out`` (``image/NAME_K.png`` ...)."""
    return [f"{sub}/{p.name}" for sub in OUTPUT_FOLDERS if (out / sub).is_dir() for p in (out / sub).iterdir() if p.is_file()]


def owned_files(out: Path) -> set[str]:
    """Files that an earlier ``gfm compose`` into ``out`` wrote, as its manifest lists them
    (relative to ``out``); empty without a readable manifest."""
    path = out / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
        return {f for record in manifest["samples"] for f in record["files"].values()}
    except FileNotFoundError:
        return set()
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InputError(f"{path}: not a gfm compose manifest; compose into an empty or new folder") from None
