"""PyTorch datasets for the two tracks of the paper.

* :class:`MattingDataset` (ORI-Track): real images with their mattes; the
  foreground and background colours for the composition loss come from the
  cache (``gfm prepare foregrounds``).
* :class:`CompositeDataset` (COMP-Track): every foreground composed on the fly
  with ``k = 5`` distinct backgrounds drawn from the whole background set,
  anew every epoch, by the RSSN route or the plain-blending baselines.

Each item is a dict of tensors (``S = out_size``, 320 by default):

==============  =====================  ======================================
key             shape, dtype           values
==============  =====================  ======================================
``image``       (3, S, S) float32      RGB in [0, 1] (multiply by 255 for the
                                       released checkpoints' 0..255 input;
                                       normalisation is the trainer's job)
``alpha``       (1, S, S) float32      [0, 1]
``fg``, ``bg``  (3, S, S) float32      [0, 1]; absent from a
                                       :class:`MattingDataset` without a cache
``glance``      (S, S) int64           RoSTa class map (TT 0/1/2, FT/BT 0/1)
``focus``       (1, S, S) float32      focus target in [0, 1]
``focus_mask``  (1, S, S) float32      1 where the focus target is supervised
``trimap``      (S, S) int64           25 px trimap, 0/1/2 (for every RoSTa)
``index``       int64 scalar           item index
==============  =====================  ======================================

Randomness: item ``i`` of epoch ``e`` draws everything from
``numpy.random.default_rng([seed, e, i, ...])``, so results do not depend on
which worker loads them. **Call** :meth:`set_epoch` **before every epoch**
(as with ``DistributedSampler``); otherwise every epoch repeats the same crops
and backgrounds. Workers copy the dataset when an iterator starts, so with
``persistent_workers=True`` they would keep their epoch: index the dataset with
``(epoch, index)`` pairs instead (``gfm.engine.sampler.EpochSampler(tag_epoch=True)``),
which sets the epoch of the copy that loads the item.

Do not call ``cv2.setNumThreads`` in a ``worker_init_fn`` of forked workers:
once the parent has used OpenCV's thread pool, that call deadlocks the worker
(seen with OpenCV 5.0 here).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from gfm.data.augment import AugmentConfig, CropParams, resize_and_flip, sample_crop, transition_pixels
from gfm.data.cache import CacheReader, image_key
from gfm.data.compose import RouteConfig, compose, route_config, sample_backgrounds, sample_choices
from gfm.data.files import read_matte, read_pair
from gfm.data.layouts import ImageSplit, MattingSample
from gfm.data.rosta import check_rosta, focus_target, glance_in_window
from gfm.errors import InputError


def training_sample(
    image: np.ndarray,
    alpha: np.ndarray,
    crop: CropParams,
    rosta: str,
    out_size: int,
    fg: np.ndarray | None = None,
    bg: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Crop, resize and flip a full-resolution sample and make its RoSTa targets.

    Glance maps are computed at full resolution (on the crop window, padded,
    which is exact) and resized by nearest neighbour; the focus target is then
    computed from the resized alpha (:func:`gfm.data.rosta.focus_target`).

    Args:
        image, fg, bg: ``uint8 (H, W, 3)``; alpha: ``uint8 (H, W)``.

    Returns:
        numpy arrays, ``S = out_size``: ``image``, ``fg``, ``bg`` ``float32 (S, S, 3)``
        in [0, 1]; ``alpha``, ``focus`` ``float32 (S, S)``; ``glance``,
        ``trimap`` ``uint8 (S, S)``; ``focus_mask`` ``bool (S, S)``.
    """
    t, l, s = crop.top, crop.left, crop.size

    def window(a: np.ndarray) -> np.ndarray:
        return a[t : t + s, l : l + s]

    def cont(a: np.ndarray) -> np.ndarray:
        return resize_and_flip(window(a).astype(np.float32) * np.float32(1 / 255), crop.flip, out_size)

    out = {"image": cont(image), "alpha": cont(alpha)}
    if fg is not None:
        out["fg"] = cont(fg)
    if bg is not None:
        out["bg"] = cont(bg)
    trimap_full = glance_in_window(alpha, "TT", t, l, s, s, trimap=True)
    out["trimap"] = resize_and_flip(trimap_full, crop.flip, out_size, label=True)
    # RIM trains the three RoSTa heads at once: their targets get a _TT / _FT / _BT suffix.
    for head in (("TT", "FT", "BT") if rosta == "RIM" else (rosta,)):
        suffix = f"_{head}" if rosta == "RIM" else ""
        glance = out["trimap"] if head == "TT" else resize_and_flip(glance_in_window(alpha, head, t, l, s, s), crop.flip, out_size, label=True)
        out["glance" + suffix] = glance
        out["focus" + suffix], out["focus_mask" + suffix] = focus_target(out["alpha"], glance, head)
    return out


def to_tensors(sample: dict[str, np.ndarray], index: int) -> dict[str, torch.Tensor]:
    """numpy sample (:func:`training_sample`) -> the dict of tensors in the module doc."""
    out: dict[str, torch.Tensor] = {}
    for key, value in sample.items():
        if key in ("image", "fg", "bg"):
            out[key] = torch.from_numpy(np.ascontiguousarray(value.transpose(2, 0, 1)))
        elif key == "alpha" or key.startswith("focus") and not key.startswith("focus_mask"):
            out[key] = torch.from_numpy(np.ascontiguousarray(value))[None]
        elif key.startswith("focus_mask"):
            out[key] = torch.from_numpy(value.astype(np.float32))[None]
        elif key.startswith("glance") or key == "trimap":
            out[key] = torch.from_numpy(value.astype(np.int64))
    out["index"] = torch.tensor(index, dtype=torch.int64)
    return out


def validate_samples(samples: Sequence[MattingSample], min_side: int) -> None:
    """Header check of every sample (fast): partners' sizes, 8-bit alphas,
    minimum side. Raises :class:`InputError` listing the problems."""
    from gfm.data.check import check_matting_split
    from gfm.data.layouts import MattingSplit

    if not samples:
        raise InputError("no training samples")
    split = MattingSplit(Path("."), "training samples", list(samples))
    _, problems = check_matting_split(split, decode=False, min_side=min_side)
    if problems:
        shown = "\n  ".join(p.message for p in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise InputError(f"{len(problems)} problem(s) in the training data:\n  {shown}{more}")


# How many items in a row may be unreadable before a skipping dataset gives up.
MAX_CONSECUTIVE_BAD_ITEMS = 16


class _EpochDataset(Dataset):
    """Epoch-seeded random draws, and what to do with an unreadable file.

    With ``strict=False`` (the default) an item whose files cannot be read (a
    truncated JPEG among 100,000 images) is replaced by the next readable
    one, a line on stderr names the file once per process, and every item
    carries ``skipped``: how many unreadable items it replaced (summed by the
    trainer). With ``strict=True`` the :class:`InputError` ends the run.
    """

    seed: int
    epoch: int = 0
    strict: bool = False
    _substitute_step: int = 1  # the next item that does not share the bad item's files

    def set_epoch(self, epoch: int) -> None:
        """Select the random draws of ``epoch`` (call before iterating)."""
        self.epoch = int(epoch)

    def _rng(self, *keys: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, *keys])

    def load(self, index: int) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def __getitem__(self, index: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        if isinstance(index, tuple):  # (epoch, index): the epoch comes with the index (persistent workers)
            epoch, index = index
            self.epoch = int(epoch)
        if self.strict:
            return {**to_tensors(self.load(index), index), "skipped": torch.tensor(0)}
        for attempt in range(MAX_CONSECUTIVE_BAD_ITEMS):
            candidate = (index + attempt * self._substitute_step) % len(self)
            try:
                item = to_tensors(self.load(candidate), index)
            except InputError as error:
                _say_skipped(error)
                continue
            item["skipped"] = torch.tensor(attempt)
            return item
        raise InputError(
            f"{MAX_CONSECUTIVE_BAD_ITEMS} training items in a row could not be read (see the lines above); "
            "check the data with `gfm data check`"
        )


_SAID: set[str] = set()  # the unreadable files this process has named


def _say_skipped(error: InputError) -> None:
    message = str(error)
    if message not in _SAID:
        _SAID.add(message)
        print(f"gfm train: skipped an unreadable item ({message}); --set data.strict=true stops instead",
              file=sys.stderr, flush=True)


class MattingDataset(_EpochDataset):
    """ORI-Track training set: real images and mattes, augmented.

    Args:
        samples: from :func:`gfm.data.layouts.matting_split` (``.samples``).
        rosta: ``"TT"``, ``"FT"``, ``"BT"``, or ``"RIM"`` for the three heads
            targets at once (keys with ``_TT`` / ``_FT`` / ``_BT`` suffixes).
        augment: crop / resize / flip settings.
        cache: where ``F`` and ``B`` come from; ``None`` leaves ``fg``/``bg``
            out of the items.
        seed: base seed of every random draw.
        validate: check every sample's headers now (fast) and refuse a bad set.
        strict: an unreadable file raises instead of being skipped (see
            :class:`_EpochDataset`).
    """

    def __init__(
        self,
        samples: Sequence[MattingSample],
        *,
        rosta: str = "TT",
        augment: AugmentConfig = AugmentConfig(),
        cache: CacheReader | None = None,
        seed: int = 0,
        validate: bool = True,
        strict: bool = False,
    ) -> None:
        self.samples = list(samples)
        self.rosta = rosta if rosta == "RIM" else check_rosta(rosta)
        self.augment = augment
        self.cache = cache
        self.seed = int(seed)
        self.strict = strict
        if validate:
            validate_samples(self.samples, augment.smallest_side)

    @classmethod
    def from_root(cls, root: str | Path, split: str | None = None, **kwargs: Any) -> MattingDataset:
        """Dataset of a split of AM-2k, P3M-10k or an image/alpha folder pair;
        refuses a split with missing partners. ``kwargs`` as the constructor."""
        from gfm.data.layouts import matting_split

        return cls(matting_split(root, split).require_complete().samples, **kwargs)

    def __len__(self) -> int:
        return len(self.samples)

    def load(self, index: int) -> dict[str, np.ndarray]:
        """Item ``index`` as numpy arrays (see :func:`training_sample`)."""
        sample = self.samples[index]
        image, alpha = read_pair(sample.image, sample.alpha)
        fg = bg = None
        if self.cache is not None:
            fg, bg = self.cache.foreground(sample, image, alpha)
        rng = self._rng(index)
        try:
            crop = sample_crop(alpha.shape, transition_pixels(alpha), rng, self.augment)
        except InputError as error:
            raise InputError(f"{sample.image}: {error}") from None
        return training_sample(image, alpha, crop, self.rosta, self.augment.out_size, fg, bg)

class CompositeDataset(_EpochDataset):
    """COMP-Track training set: foregrounds composed on backgrounds on the fly.

    Item ``i`` is foreground ``i // k`` on its ``(i % k)``-th background of the
    epoch; the ``k`` backgrounds of a foreground are distinct and drawn
    uniformly from the whole set every epoch (the released code paired each
    foreground with one fixed background).

    Args:
        samples: foregrounds (images with mattes); their ``F`` comes from ``cache``.
        backgrounds: the background set (e.g. :func:`gfm.data.layouts.background_split`).
        cache: foreground cache; for RSSN also the denoised foregrounds and
            (``background_cache``) the denoised backgrounds.
        route: ``"rssn"``, ``"bg20k"`` or ``"coco"``, or a :class:`RouteConfig`.
        k: backgrounds per foreground per epoch.
        rosta, augment, seed, validate, strict: as :class:`MattingDataset`.
    """

    def __init__(
        self,
        samples: Sequence[MattingSample],
        backgrounds: ImageSplit,
        cache: CacheReader,
        *,
        route: str | RouteConfig = "rssn",
        k: int = 5,
        rosta: str = "TT",
        augment: AugmentConfig = AugmentConfig(),
        seed: int = 0,
        validate: bool = True,
        strict: bool = False,
    ) -> None:
        self.samples = list(samples)
        self.strict = strict
        self._substitute_step = int(k)  # the next foreground: a bad foreground spoils its k items
        self.backgrounds = backgrounds
        self.cache = cache
        self.route = route if isinstance(route, RouteConfig) else route_config(route)
        self.k = int(k)
        self.rosta = rosta if rosta == "RIM" else check_rosta(rosta)
        self.augment = augment
        self.seed = int(seed)
        # Refuse an empty or too small background set now, not in a worker.
        sample_backgrounds(len(backgrounds.images), self.k, np.random.default_rng(0))
        if validate:
            validate_samples(self.samples, augment.smallest_side)

    @classmethod
    def from_roots(
        cls,
        foregrounds: str | Path,
        backgrounds: str | Path,
        *,
        split: str | None = None,
        bg_split: str | None = None,
        fg_method: str = "cf",
        denoiser: str = "bm3d",
        compute_missing: bool = False,
        **kwargs: Any,
    ) -> CompositeDataset:
        """Dataset from a matting dataset folder and a background folder, with
        the caches at their default places (``ROOT/gfm-cache``)."""
        from gfm.data.cache import Cache, default_cache_dir
        from gfm.data.layouts import background_split, matting_split

        samples = matting_split(foregrounds, split).require_complete().samples
        images = background_split(backgrounds, bg_split).require_nonempty()
        cache = CacheReader(
            Cache(default_cache_dir(foregrounds)), fg_method, denoiser, compute_missing=compute_missing,
            background_cache=Cache(default_cache_dir(backgrounds)),
        )
        return cls(samples, images, cache, **kwargs)

    def __len__(self) -> int:
        return len(self.samples) * self.k

    def background_indices(self, fg_index: int) -> np.ndarray:
        """The ``k`` distinct background indices of foreground ``fg_index`` this epoch."""
        return sample_backgrounds(len(self.backgrounds.images), self.k, self._rng(fg_index, 0))

    def load(self, index: int) -> dict[str, np.ndarray]:
        from gfm.io import read_image

        fg_index, slot = divmod(index, self.k)
        sample = self.samples[fg_index]
        bg_index = int(self.background_indices(fg_index)[slot])
        bg_path = self.backgrounds.images[bg_index]
        alpha = read_matte(sample.alpha)
        fg = self.cache.foreground_for_composition(sample, alpha)
        background = read_image(bg_path)
        rng = self._rng(index, 1)
        choices = sample_choices(rng, self.route, bg_index, background.shape[:2], alpha.shape)
        fg_dn = self.cache.denoised_foreground(sample, fg) if choices.denoise_fg else None
        bg_dn = None
        if choices.denoise_bg:
            bg_dn = self.cache.denoised_background(image_key(bg_path, self.backgrounds.root), background)
        comp = compose(fg, alpha, background, choices, fg_denoised=fg_dn, bg_denoised=bg_dn,
                       noise_sigma=self.route.noise_sigma)
        try:
            crop = sample_crop(alpha.shape, transition_pixels(alpha), rng, self.augment)
        except InputError as error:
            raise InputError(f"{sample.image}: {error}") from None
        return training_sample(comp.image, alpha, crop, self.rosta, self.augment.out_size, comp.fg, comp.bg)
