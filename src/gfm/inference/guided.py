"""Guided matting: user hints override the glance classes, without running the network again.

GFM's glance decoder says, for each pixel, background, transition or
foreground; its focus decoder gives an alpha for the transition area, and
the fusion keeps 0, the focus alpha or 1 accordingly. A user who marks a
region "definitely background", "definitely foreground" or "transition (hair,
work it out)" simply replaces the glance classes there. The network's
outputs of an image are computed once (:meth:`GuidedPredictor.analyse`, the
focus decoder everywhere, since a hint may ask for it anywhere); each
correction is then only the full-resolution fusion (:meth:`GuidedPredictor.fuse`)::

    from gfm.inference import Predictor
    from gfm.inference.guided import GuidedPredictor
    from gfm.io.hints import read_hint

    guided = GuidedPredictor(Predictor(model))
    maps = guided.analyse(image)                    # the network, once
    result = guided.fuse(maps)                      # equals Predictor.predict(image, trimap=True)
    result = guided.fuse(maps, read_hint("hint.png", image.shape[:2]))   # a correction

A hint map is ``(H, W)`` uint8 of :class:`~gfm.io.hints.Hint` codes. The rule
per RoSTa head: background -> 0, foreground -> 1, transition -> the focus
alpha (TT, FT) or one minus it (BT, whose focus decoder predicts ``1 - alpha``),
unknown -> the usual fusion. RIM models integrate the hinted heads; ensembles
take the median; where the user said background or foreground the final alpha
is exactly 0 or 1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gfm.errors import InputError
from gfm.inference.guide import GuideOutput, hints_of, merge_hints
from gfm.inference.predictor import MattingResult, Predictor, _focus_pixels_needed, _tt_trimap_full_resolution
from gfm.inference.result import checked_hints, force_solid, fuse_two_class, tt_glance_map
from gfm.inference.sizing import from_network_output, working_size
from gfm.models.gfm import GFM
from gfm.models.normalization import Normalization


@dataclass(frozen=True)
class HeadMaps:
    """One RoSTa head's network outputs at the image's full resolution.

    Attributes:
        glance: ``(H, W)`` uint8, the glance classes up-sampled bilinearly as an
            8-bit map (TT: 0 background, 128 transition, 255 foreground, other
            values at class borders; FT / BT: 0 or 255 for class 0 or 1, between at borders).
        focus: ``(H, W)`` float32 in [0, 1], the focus decoder's output everywhere.
    """

    glance: np.ndarray
    focus: np.ndarray


@dataclass(frozen=True)
class NetworkMaps:
    """The cached network outputs of one image: everything a correction needs.

    Attributes:
        size: ``(H, W)`` of the image.
        models: for each model of the predictor, ``{head: HeadMaps}``.
        guide: what the predictor's guide said (its hints and mask), or None without
            a guide (or when it had nothing to say about this image).
    """

    size: tuple[int, int]
    models: list[dict[str, HeadMaps]]
    guide: GuideOutput | None = None

    @property
    def nbytes(self) -> int:
        """Memory held by the maps (5 bytes a pixel a head, 2 more with a guide)."""
        guide = 0 if self.guide is None else self.guide.nbytes
        return guide + sum(m.glance.nbytes + m.focus.nbytes for model in self.models for m in model.values())


def _fuse_head(head: str, maps: HeadMaps, hints: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Collaborative matting of one head with the glance classes overridden by ``hints``.

    Without hints this is exactly :func:`gfm.inference.result.fuse_full_resolution`.

    Returns:
        ``(alpha (H, W) float32, glance map (H, W) uint8)``; the map is a trimap
        (0 / 128 / 255) for TT, and 0 / 255 for FT / BT, with 128 where hinted transition.
    """
    if head == "TT":
        trimap = tt_glance_map(maps.glance, hints)
        alpha = maps.focus.astype(np.float32, copy=True)
        alpha[trimap == 255] = 1.0
        alpha[trimap == 0] = 0.0
        return alpha, trimap
    return fuse_two_class(head, maps.glance, maps.focus, hints)


class GuidedPredictor:
    """Matting with user hints, on the models and settings of a :class:`Predictor`.

    Args:
        predictor: supplies the models, strategy, device, precision and
            working-resolution budget. Its outputs are reproduced exactly when
            no hint is given.
    """

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor

    def _heads_of(self, model: GFM, normalization: Normalization, image: np.ndarray, guide: np.ndarray | None) -> dict[str, HeadMaps]:
        predictor = self.predictor
        height, width = image.shape[:2]
        strategy = predictor.strategy
        glance_size = working_size(height, width, strategy.glance_scale, predictor.max_pixels, model.output_stride)
        focus_size = glance_size if strategy.single_pass else working_size(height, width, strategy.focus_scale, predictor.max_pixels, model.output_stride)
        with torch.autocast(predictor.device.type, dtype=torch.bfloat16, enabled=predictor.precision == "bf16"):
            features = model.encode(predictor._tensor(image, glance_size, normalization))
            glance = model.predict_glance(features)
            classes_of = {head: glance[head][0].argmax(0).to(torch.uint8).cpu().numpy() for head in model.heads}
            glance_of = {
                head: _tt_trimap_full_resolution(classes, glance_size, height, width)
                if head == "TT"
                else from_network_output((classes * 255).astype(np.uint8), glance_size, height, width)
                for head, classes in classes_of.items()
            }
            needed = None
            if predictor.sparse_focus and model.heads == ["TT"]:
                # The predictor's sparse focus pixels (with the guide's hints, as it runs them),
                # whose bits the no-hint result must reproduce.
                needed = _focus_pixels_needed(tt_glance_map(glance_of["TT"], guide) == 128, focus_size)
            if not strategy.single_pass:
                del features, glance  # free the glance pass before the focus pass
                features = model.encode(predictor._tensor(image, focus_size, normalization))
            focus = model.predict_focus(features, needed, everywhere=True)  # a hint may ask for any pixel
            del features
        maps = {}
        for head in model.heads:
            glance_full = glance_of[head]
            focus_full = from_network_output(focus[head][0, 0].float().cpu().numpy(), focus_size, height, width)
            maps[head] = HeadMaps(glance_full, focus_full)
        return maps

    @torch.inference_mode()
    def analyse(self, image: np.ndarray | str | os.PathLike[str]) -> NetworkMaps:
        """Run the network once and keep what corrections need.

        Args:
            image: ``(H, W, 3)`` uint8 RGB, or a path (EXIF orientation applied).

        Returns:
            The :class:`NetworkMaps` of the image (about 5 bytes a pixel a head).
        """
        if isinstance(image, (str, os.PathLike)):
            from gfm.io import read_image

            image = read_image(Path(image))
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InputError(f"expected an (H, W, 3) uint8 RGB image, got {image.dtype} {image.shape}")
        if image.shape[0] == 0 or image.shape[1] == 0:
            raise InputError("the image has zero size")
        predictor = self.predictor
        _, guide = predictor.hints_for(image)  # what the guide says (None without a guide)
        models = [self._heads_of(m, n, image, hints_of(guide)) for m, n in zip(predictor.models, predictor.normalizations)]
        return NetworkMaps((int(image.shape[0]), int(image.shape[1])), models, guide)

    @torch.inference_mode()
    def fuse(self, maps: NetworkMaps, hints: np.ndarray | None = None) -> MattingResult:
        """The alpha matte of an analysed image, with the glance classes overridden by ``hints``.

        Args:
            maps: from :meth:`analyse`.
            hints: ``(H, W)`` uint8 :class:`~gfm.io.hints.Hint` codes, or ``None``
                (then the result equals :meth:`Predictor.predict` with ``trimap=True``).
                With a guide, these win where they say something and the guide's
                hints apply elsewhere.

        Returns:
            A :class:`MattingResult` with the alpha and the glance map the fusion used
            (hints included).

        Raises:
            InputError: a hint map of another size or with codes outside :class:`~gfm.io.hints.Hint`.
        """
        if hints is not None:
            hints = checked_hints(hints, maps.size)  # None when all unknown: the plain prediction, bit for bit
        hints = merge_hints(hints, hints_of(maps.guide))
        predictor = self.predictor
        outputs = []
        for model, heads in zip(predictor.models, maps.models):
            fused = {head: _fuse_head(head, head_maps, hints) for head, head_maps in heads.items()}
            if model.rim is None:
                outputs.append(fused[model.heads[0]])
                continue
            with torch.autocast(predictor.device.type, dtype=torch.bfloat16, enabled=predictor.precision == "bf16"):
                stacked = torch.from_numpy(np.stack([fused[h][0] for h in model.heads])[None]).to(predictor.device)
                alpha = model.rim(stacked.to(next(model.rim.parameters()).dtype)).clamp(0.0, 1.0)[0, 0].float().cpu().numpy()
            outputs.append((alpha, fused["TT"][1]))
        if len(outputs) == 1:
            alpha, glance_map = outputs[0]
        else:
            alpha = np.median(np.stack([a for a, _ in outputs]), axis=0).astype(np.float32)
            glance_map = outputs[0][1]
        alpha = np.clip(alpha, 0.0, 1.0)
        if maps.guide is not None and hints is not None:
            maps.guide.bound(alpha, hints)
        if hints is not None:
            force_solid(alpha, hints)  # RIM and medians must not undo what the user said
        return MattingResult(alpha, glance_map)

    def predict(self, image: np.ndarray | str | os.PathLike[str], hints: np.ndarray | None = None) -> MattingResult:
        """:meth:`analyse` then :meth:`fuse`: one guided prediction."""
        return self.fuse(self.analyse(image), hints)


__all__ = ["GuidedPredictor", "HeadMaps", "NetworkMaps"]
