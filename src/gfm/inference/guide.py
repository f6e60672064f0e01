"""Guides: a segmentation model says what is subject, GFM draws the edge.

GFM's glance decoder answers "what is the subject" and its focus decoder
"where exactly is its edge". A segmentation model trained on tens of thousands
of images (ISNet, as rembg serves it) knows the first far better than a small
matting network, and GFM's focus decoder knows the second better than it. A
*guide* runs such a model and turns its mask into hints for GFM's fusion
(:func:`hints_from_mask`):

* far inside the guide's subject: foreground (alpha 1);
* far outside it: background (alpha 0);
* near the guide's edge, and wherever the guide is unsure: unknown, i.e.
  GFM's own glance decides, and its focus decoder gives the alpha in the
  transition area (hair, fur), kept within 0.5 of the guide's own value
  (:meth:`GuideOutput.bound`: GFM may refine the guide, not contradict it).

The rule's numbers (:class:`HintRule`) were chosen on held-out photos (the
model card's table): a 0.3% core erosion keeps the guide's semantics, and
within 4% of the image's short side from the guide's edge only pixels the
guide is sure of (below 0.03 or above 0.97) are fixed, so GFM keeps the
soft edge. Torch-free: the ONNX runtime path uses it too.

Example::

    from gfm.inference.guide import load_guide
    guide = load_guide("isnet-general-use")          # or a path to an .onnx file
    hints = guide.hints(rgb)                          # (H, W) uint8 Hint codes
    Predictor.from_name(guide=guide).predict(rgb)     # guided matting
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from gfm.errors import CheckpointError, ConfigError, InputError
from gfm.io.hints import Hint
from gfm.segmentation.onnx_runner import OnnxSegmenter, SegmenterSpec

#: ``--guide`` values that are not models: use the default guide if its file is at hand, or none.
GUIDE_AUTO = "auto"
GUIDE_NONE = "none"

#: Hints are computed with the photo's longer side at most this (then enlarged, nearest
#: neighbour): the guide's mask is 1024 px anyway, and memory stays bounded for huge photos.
HINT_MAX_SIDE = 2048


class GuideWarning(UserWarning):
    """A photo the guide could not help with (its mask was flat): matted without it."""


@dataclass(frozen=True)
class HintRule:
    """How a guide's mask becomes hints.

    Attributes:
        core: pixels farther than this from the guide's 0.5 contour (a fraction of
            the image's short side) are fixed to the guide's side.
        near: ... except, within this distance of the contour, pixels the guide is
            unsure of (between ``low`` and ``high``): those are left to GFM.
        high, low: the guide's values counted as sure foreground / background.
        margin: where the guide leaves a pixel to GFM, the alpha stays within this of
            the guide's value (1: no bound).
    """

    core: float = 0.003
    near: float = 0.04
    high: float = 0.97
    low: float = 0.03
    margin: float = 0.5

    def __post_init__(self) -> None:
        if not (0 <= self.core <= self.near <= 1 and 0 <= self.low <= 0.5 <= self.high <= 1 and 0 <= self.margin <= 1):
            raise ConfigError(f"a hint rule needs 0 <= core <= near <= 1, 0 <= low <= 0.5 <= high <= 1 and "
                              f"0 <= margin <= 1, got {self}")


DEFAULT_RULE = HintRule()


def hints_from_mask(mask: np.ndarray, rule: HintRule = DEFAULT_RULE) -> np.ndarray:
    """Hints for GFM's fusion from a guide's soft mask.

    Args:
        mask: ``(H, W)`` float32 in [0, 1], the guide's subject probability.
        rule: the distances and thresholds (:class:`HintRule`).

    Returns:
        ``(H, W)`` uint8 :class:`~gfm.io.hints.Hint` codes: ``FOREGROUND``,
        ``BACKGROUND`` or ``UNKNOWN`` (never ``TRANSITION``: where to draw the
        edge is GFM's call).
    """
    mask = np.asarray(mask, dtype=np.float32)
    if mask.ndim != 2 or mask.size == 0:
        raise InputError(f"a guide mask is (H, W) and not empty, got {mask.shape}")
    short = min(mask.shape)
    subject = (mask >= 0.5).astype(np.uint8)
    # Distance of every subject pixel to the nearest non-subject pixel, and the reverse
    # (a flat mask: infinitely far, as the transform reports a huge value).
    inside = cv2.distanceTransform(subject, cv2.DIST_L2, 5)
    outside = cv2.distanceTransform(1 - subject, cv2.DIST_L2, 5)
    to_edge = np.where(subject == 1, inside, outside)
    core = to_edge > rule.core * short
    near = to_edge <= rule.near * short
    hints = np.full(mask.shape, Hint.UNKNOWN, dtype=np.uint8)
    hints[core & (subject == 1) & ~(near & (mask < rule.high))] = Hint.FOREGROUND
    hints[core & (subject == 0) & ~(near & (mask > rule.low))] = Hint.BACKGROUND
    return hints


def merge_hints(user: np.ndarray | None, guide: np.ndarray | None) -> np.ndarray | None:
    """The user's hints where they say something, the guide's elsewhere (either may be None)."""
    if user is None or guide is None:
        return guide if user is None else user
    return np.where(user != Hint.UNKNOWN, user, guide).astype(np.uint8)


@dataclass(frozen=True)
class GuideOutput:
    """What a guide says about one photo.

    Attributes:
        hints: ``(H, W)`` uint8 :class:`~gfm.io.hints.Hint` codes (:func:`hints_from_mask`).
        mask: ``(H, W)`` uint8, the guide's subject probability x 255.
        margin: how far GFM's alpha may stray from the guide where the hints leave it to GFM.
    """

    hints: np.ndarray
    mask: np.ndarray
    margin: float = DEFAULT_RULE.margin

    @property
    def nbytes(self) -> int:
        return int(self.hints.nbytes + self.mask.nbytes)

    def bound(self, alpha: np.ndarray, hints: np.ndarray) -> None:
        """Keep ``alpha`` within :attr:`margin` of the guide's value where ``hints`` (the
        guide's merged with a user's) say unknown (in place; rows in bands, little memory)."""
        if self.margin >= 1:
            return
        band = 256
        for top in range(0, alpha.shape[0], band):
            rows = slice(top, top + band)
            free = hints[rows] == Hint.UNKNOWN
            guide = self.mask[rows][free].astype(np.float32) * np.float32(1 / 255)
            alpha[rows][free] = np.clip(alpha[rows][free], guide - self.margin, guide + self.margin)


def hints_of(output: GuideOutput | None) -> np.ndarray | None:
    """The hint codes of a guide's output (None without one)."""
    return None if output is None else output.hints


class Guide:
    """A segmentation model that steers GFM's glance.

    Args:
        segmenter: the model (:class:`~gfm.segmentation.OnnxSegmenter`).
        name: how messages name it (a registry name, or the file's name).
        rule: how its mask becomes hints.
    """

    def __init__(self, segmenter: OnnxSegmenter, name: str, rule: HintRule = DEFAULT_RULE) -> None:
        self.segmenter = segmenter
        self.name = name
        self.rule = rule

    @property
    def path(self) -> Path:
        """The ``.onnx`` file."""
        return self.segmenter.path

    def mask(self, image: np.ndarray) -> np.ndarray:
        """The guide's mask: ``(H, W, 3)`` uint8 RGB -> ``(H, W)`` float32 in [0, 1]."""
        return self.segmenter.predict(image)

    def hints(self, image: np.ndarray) -> np.ndarray | None:
        """Hint codes for one photo: :meth:`run`'s, or None."""
        return hints_of(self.run(image))

    def run(self, image: np.ndarray) -> GuideOutput | None:
        """The guide's hints and mask for one photo (:func:`hints_from_mask` of :meth:`mask`;
        for photos over :data:`HINT_MAX_SIDE` px, of the mask at that size, enlarged).

        Returns:
            A :class:`GuideOutput`, or ``None`` (with a :class:`GuideWarning`)
            when the mask is the same everywhere: a flat mask says nothing about
            where the subject is, so the photo is matted by GFM alone.
        """
        height, width = image.shape[:2]
        scale = min(1.0, HINT_MAX_SIDE / max(height, width))
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        mask = self.segmenter.predict(image, size)
        if float(mask.max()) - float(mask.min()) < 1e-3:
            warnings.warn(f"the guide {self.name} ({self.path}) returned the same value ({float(mask.mean()):.3g}) "
                          "everywhere for this photo; matted without the guide", GuideWarning, stacklevel=2)
            return None
        hints = hints_from_mask(mask, self.rule)
        levels = np.round(mask * 255).astype(np.uint8)
        if size != (height, width):  # a huge photo: the hints of its reduced copy, enlarged
            hints = cv2.resize(hints, (width, height), interpolation=cv2.INTER_NEAREST)
            levels = cv2.resize(levels, (width, height), interpolation=cv2.INTER_LINEAR)
        return GuideOutput(hints, levels, self.rule.margin)

    def describe(self) -> str:
        """``isnet-general-use (ISNet, /path/to/file.onnx)`` for messages."""
        return f"{self.name} ({self.path})"


def _digests(path: Path) -> tuple[str, str]:
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            sha256.update(chunk)
            md5.update(chunk)
    return sha256.hexdigest(), md5.hexdigest()


def recognise_guide_file(path: str | os.PathLike[str]) -> tuple[str, SegmenterSpec] | None:
    """The registered guide a file is a copy of, by its hash: ``(name, spec)``, or None.

    Recognises the files the registry accepts (rembg's fp32 ISNet by its MD5, the
    npm fp16 copy by its SHA-256) and a cached copy's recorded SHA-256.
    """
    from gfm.hub.cache import recorded_hash
    from gfm.hub.registry import list_weights

    sha256, md5 = _digests(Path(path))
    for entry in list_weights("guide"):
        record = recorded_hash(entry) or {}
        if sha256 in entry.accepted_sha256 or md5 == entry.md5 or sha256 in (entry.sha256, record.get("sha256")):
            assert entry.segmenter is not None  # every guide entry has one (WeightsEntry checks)
            return entry.name, entry.segmenter
    return None


def default_guide_available() -> bool:
    """Whether ``--guide auto`` finds the default guide: its file in the cache and onnxruntime installed."""
    from gfm.hub.cache import cache_file
    from gfm.hub.registry import DEFAULT_GUIDE, get_weights

    if not cache_file(get_weights(DEFAULT_GUIDE)).is_file():
        return False
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def load_guide(
    spec: str | os.PathLike[str] | None = GUIDE_AUTO,
    *,
    download: bool = True,
    progress: bool = True,
    threads: int | None = None,
    rule: HintRule = DEFAULT_RULE,
) -> Guide | None:
    """A guide by name or file.

    Args:
        spec: ``"auto"`` (the default guide, :data:`gfm.hub.registry.DEFAULT_GUIDE`, when
            its file is in the cache and onnxruntime is installed; else None: never
            downloads), ``"none"`` or None (no guide), a guide's registry name
            (``gfm weights list``; downloaded on first use when ``download``), or
            the path of an ``.onnx`` segmentation model (a copy of a registered guide
            is recognised by its hash and run as that guide; any other file is run
            as ISNet is: 1024x1024 unless the file fixes its size, mean 0.5, std 1).
        download: fetch a registered guide missing from the cache (verified).
        progress: the download's progress bar on stderr.
        threads: onnxruntime intra-op threads.
        rule: how masks become hints.

    Raises:
        CheckpointError: an unknown name, GFM weights given as a guide, a missing
            or broken file, a guide not in the cache and not downloadable (the
            message says how to get it).
        ConfigError: onnxruntime is not installed.
    """
    if spec is None:
        return None
    text = os.fspath(spec)
    if text == GUIDE_NONE:
        return None
    from gfm.hub.registry import DEFAULT_GUIDE, get_weights, list_weights

    if text == GUIDE_AUTO:
        if not default_guide_available():
            return None
        text = DEFAULT_GUIDE
    path = Path(text)
    if path.suffix.lower() == ".onnx" or path.exists() or "/" in text or "\\" in text:
        if not path.is_file():
            raise CheckpointError(f"--guide {text}: no such file; give an .onnx segmentation model, a guide's name "
                                  f"({', '.join(e.name for e in list_weights('guide'))}) or none")
        known = recognise_guide_file(path)
        name, segmenter_spec = known if known is not None else (path.name, SegmenterSpec())
        return Guide(OnnxSegmenter(path, segmenter_spec, threads=threads, what="guide"), name, rule)
    try:
        entry = get_weights(text)
    except ConfigError as error:
        raise CheckpointError(f"--guide: {error}; a guide is one of {', '.join(e.name for e in list_weights('guide'))}, "
                              "an .onnx file, auto or none") from None
    if not entry.is_guide:
        raise CheckpointError(f"--guide {text}: these are GFM weights, not a guide; give them with --model, and a "
                              f"segmentation model with --guide ({', '.join(e.name for e in list_weights('guide'))})")
    from gfm.errors import WeightsNotFoundError
    from gfm.hub import download_weights, weights_path

    try:
        file = weights_path(entry.name)
    except WeightsNotFoundError:
        if not download:
            raise
        file = download_weights(entry.name, progress=progress, validate_checkpoint=check_guide_file)
    assert entry.segmenter is not None
    return Guide(OnnxSegmenter(file, entry.segmenter, threads=threads, what="guide"), entry.name, rule)


def check_guide_file(path: Path) -> None:
    """A download or import hook: raise unless ``path`` loads as a segmentation model."""
    OnnxSegmenter(path, what="guide", threads=1)


__all__ = [
    "DEFAULT_RULE",
    "GUIDE_AUTO",
    "GUIDE_NONE",
    "Guide",
    "GuideOutput",
    "GuideWarning",
    "HintRule",
    "check_guide_file",
    "default_guide_available",
    "hints_from_mask",
    "hints_of",
    "load_guide",
    "merge_hints",
    "recognise_guide_file",
]
