"""The precomputation cache: estimated foregrounds and denoised images.

Closed-form foregrounds take seconds an image and BM3D about a minute, so they
are computed once (``gfm prepare foregrounds|denoise``, see
:mod:`gfm.data.prepare`) into a folder next to the data,
``ROOT/gfm-cache/`` by default, as lossless PNGs named after the source file's
path relative to ``ROOT`` (its *key*)::

    gfm-cache/fg-cf/train/original/m_0001.png          F of a matting sample
    gfm-cache/bg-cf/train/original/m_0001.png          B of the same (ORI-Track F/B)
    gfm-cache/fg-cf-bm3d/train/original/m_0001.png     F, denoised
    gfm-cache/denoised-bm3d/train/h_0001.png           a background image, denoised

Training reads these through :class:`CacheReader`, which raises an error
naming the missing file unless it was asked to compute missing entries on the
fly (``compute_missing=True``; results are then written back atomically).
A cached file is never checked against its source: after changing a source
image, delete its cache entry or rerun ``prepare`` with ``--force``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gfm.data.layouts import CACHE_DIR_NAME, MattingSample
from gfm.errors import InputError


def default_cache_dir(root: str | os.PathLike[str]) -> Path:
    """``ROOT/gfm-cache``."""
    return Path(root) / CACHE_DIR_NAME


@dataclass(frozen=True)
class Cache:
    """Paths of cache entries under ``root`` (the cache folder itself)."""

    root: Path

    def foreground(self, key: str, method: str = "cf") -> Path:
        return self.root / f"fg-{method}" / f"{key}.png"

    def background_estimate(self, key: str, method: str = "cf") -> Path:
        return self.root / f"bg-{method}" / f"{key}.png"

    def denoised_foreground(self, key: str, method: str = "cf", denoiser: str = "bm3d") -> Path:
        return self.root / f"fg-{method}-{denoiser}" / f"{key}.png"

    def denoised_image(self, key: str, denoiser: str = "bm3d") -> Path:
        return self.root / f"denoised-{denoiser}" / f"{key}.png"


def image_key(path: Path, root: Path) -> str:
    """Cache key of an image file: its path relative to ``root``, without suffix."""
    try:
        return Path(path).relative_to(root).with_suffix("").as_posix()
    except ValueError:
        raise InputError(f"{path} is not inside {root}") from None


def check_computed(output: np.ndarray, source: np.ndarray, path: Path, what: str) -> None:
    """Refuse a computed cache entry that is clearly broken instead of storing it.

    An estimate or a denoised image that is all zero (while its source is not) or
    holds NaN / infinity would be cached as black and read by training and
    composition without a word.

    Args:
        output: the computed image, any shape and dtype.
        source: what it was computed from (the image, or the foreground colours
            under alpha > 0).
        path: the cache file it would be written to (named in the error).
        what: the computation, e.g. ``"BM3D denoising"``.

    Raises:
        InputError: naming the file, what went wrong and what to do.
    """
    if np.issubdtype(output.dtype, np.floating) and not np.all(np.isfinite(output)):
        raise InputError(f"{path}: {what} produced NaN or infinite values; not cached. "
                         "Try another method (--denoiser nlm, --method ml) and report the image")
    if not np.any(output) and np.any(source):
        raise InputError(f"{path}: {what} produced an all-black image from a non-black source; not cached. "
                         "Try another method (--denoiser nlm, --method ml) and report the image")


def _read_cached(path: Path) -> np.ndarray:
    from gfm.io import read_image

    return read_image(path)


def _write_cached(path: Path, image: np.ndarray) -> None:
    from gfm.io import write_image

    try:
        write_image(path, image)
    except OSError:
        pass  # read-only cache: computing on the fly still works, just not saved


class CacheReader:
    """Loads cached foregrounds and denoised images for training and composing.

    Args:
        cache: cache layout (foregrounds' cache).
        fg_method: ``"cf"`` or ``"ml"`` (which foreground estimate).
        denoiser: ``"bm3d"`` or ``"nlm"``.
        compute_missing: compute an entry that is not cached (and write it
            back) instead of raising :class:`InputError`.
        background_cache: cache of the background set, if it differs from ``cache``.
    """

    def __init__(
        self,
        cache: Cache,
        fg_method: str = "cf",
        denoiser: str = "bm3d",
        *,
        compute_missing: bool = False,
        background_cache: Cache | None = None,
    ) -> None:
        self.cache = cache
        self.background_cache = background_cache or cache
        self.fg_method = fg_method
        self.denoiser = denoiser
        self.compute_missing = compute_missing

    def _missing(self, path: Path, command: str) -> InputError:
        return InputError(
            f"{path}: not in the cache; run `{command}` first, or allow computing on the fly "
            "(compute_missing=True / --compute-missing)"
        )

    def foreground(
        self, sample: MattingSample, image: np.ndarray, alpha: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(F, B)`` of a matting sample, ``uint8 (H, W, 3)`` each."""
        fg_path = self.cache.foreground(sample.key, self.fg_method)
        bg_path = self.cache.background_estimate(sample.key, self.fg_method)
        if fg_path.is_file() and bg_path.is_file():
            fg, bg = _read_cached(fg_path), _read_cached(bg_path)
            if fg.shape != image.shape or bg.shape != image.shape:
                raise InputError(
                    f"{fg_path}: cached foreground is {fg.shape[1]}x{fg.shape[0]} but {sample.image} is "
                    f"{image.shape[1]}x{image.shape[0]}; the cache is stale, rerun prepare with --force"
                )
            return fg, bg
        if not self.compute_missing:
            raise self._missing(fg_path, f"gfm prepare foregrounds --method {self.fg_method} DATASET")
        from gfm.data.foreground import estimate_foreground

        fg, bg = estimate_foreground(image, alpha, self.fg_method)
        check_computed(fg, image[alpha > 0], fg_path, f"the {self.fg_method} foreground estimate")
        _write_cached(fg_path, fg)
        _write_cached(bg_path, bg)
        return fg, bg

    def foreground_for_composition(self, sample: MattingSample, alpha: np.ndarray) -> np.ndarray:
        """``F`` of a sample, ``uint8 (H, W, 3)``, without decoding the sample's
        image when ``F`` is cached (composition never needs the original)."""
        path = self.cache.foreground(sample.key, self.fg_method)
        if path.is_file():
            fg = _read_cached(path)
            if fg.shape[:2] != alpha.shape:
                raise InputError(
                    f"{path}: cached foreground is {fg.shape[1]}x{fg.shape[0]} but the alpha {sample.alpha} is "
                    f"{alpha.shape[1]}x{alpha.shape[0]}; the cache is stale, rerun prepare with --force"
                )
            return fg
        from gfm.data.files import read_pair

        image, alpha = read_pair(sample.image, sample.alpha)
        return self.foreground(sample, image, alpha)[0]

    def denoised_foreground(self, sample: MattingSample, fg: np.ndarray) -> np.ndarray:
        """The denoised ``F`` of a sample (``fg``: its cached ``F``, used when computing)."""
        path = self.cache.denoised_foreground(sample.key, self.fg_method, self.denoiser)
        return self._denoised(path, fg, f"gfm prepare denoise --denoiser {self.denoiser} DATASET")

    def denoised_background(self, key: str, image: np.ndarray) -> np.ndarray:
        """The denoised version of a background image (``key`` relative to its set's root)."""
        path = self.background_cache.denoised_image(key, self.denoiser)
        return self._denoised(path, image, f"gfm prepare denoise --denoiser {self.denoiser} BACKGROUNDS")

    def _denoised(self, path: Path, source: np.ndarray, command: str) -> np.ndarray:
        if path.is_file():
            out = _read_cached(path)
            if out.shape != source.shape:
                raise InputError(f"{path}: cached image has shape {out.shape}, source {source.shape}; stale cache")
            return out
        if not self.compute_missing:
            raise self._missing(path, command)
        from gfm.data.denoise import denoise

        out = denoise(source, self.denoiser)
        check_computed(out, source, path, f"{self.denoiser} denoising")
        _write_cached(path, out)
        return out
