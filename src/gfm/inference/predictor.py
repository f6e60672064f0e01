"""The matting predictor: an RGB image in, an alpha matte at full resolution out.

    from gfm.inference import Predictor
    predictor = Predictor.from_name()             # the default model (gfm-lite); or a name, file or run folder
    result = predictor.predict("photo.jpg")      # or a PIL image, or an (H, W, 3) uint8 RGB array
    result.alpha                                  # (H, W) float32 in [0, 1]
    result.cutout()                               # (H, W, 4) uint8 RGBA, estimated foreground colours

Each strategy computes only what it uses: ``hybrid`` runs the encoder and the
glance decoder at 1/3 scale and the encoder and the focus decoder at 1/2
scale (the released code runs the whole network twice), then fuses at the
input's full resolution. Several models make an ensemble whose alpha is the
per-pixel median (the paper's EN-median).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import torch

from gfm.errors import InputError
from gfm.inference.precision import inference_defaults, resolve_precision
from gfm.inference.result import ImageInput, MattingResult, as_rgb, checked_hints, force_solid, tt_glance_map
from gfm.inference.result import fuse_full_resolution as _fuse_full_resolution
from gfm.inference.result import tt_trimap_full_resolution as _tt_trimap_full_resolution
from gfm.inference.sizing import DEFAULT_MAX_PIXELS, MIN_SIDE, WorkingSize, from_network_output, to_network_input, working_size
from gfm.inference.strategies import Strategy, get_strategy
from gfm.models.gfm import GFM
from gfm.models.normalization import RAW_255, Normalization
from gfm.models.optimize import optimize_for_inference

if TYPE_CHECKING:
    from gfm.inference.guide import Guide, GuideOutput

def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except RuntimeError:
        raise InputError(f"unknown device {str(device)!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type not in ("cpu", "cuda"):
        raise InputError(f"device {str(device)!r} is not supported; use auto, cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for but PyTorch sees no CUDA device; use --device cpu or auto")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise InputError(f"--device {device}: PyTorch sees {torch.cuda.device_count()} CUDA device(s) (cuda:0 ...); pick one of them")
    return device


def _focus_pixels_needed(uses_focus: np.ndarray, focus_size: WorkingSize) -> torch.Tensor | None:
    """Which pixels of the focus pass's input grid the full-resolution fusion reads.

    ``uses_focus`` is ``(H, W)`` bool at full resolution. A working pixel is
    needed if a used full-resolution pixel falls in its footprint or in a
    neighbour's (the bilinear up-sampling's taps). ``None`` (compute
    everything) when the working content is larger than the image.
    """
    height, width = uses_focus.shape
    if focus_size.height > height or focus_size.width > width:
        return None
    # uint8 view of the bool mask: INTER_AREA averages are > 0 exactly where a used pixel falls (no float copy)
    cover = cv2.resize(uses_focus.view(np.uint8), (focus_size.width, focus_size.height), interpolation=cv2.INTER_AREA) > 0
    cover = cv2.dilate(cover.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    needed = np.zeros((focus_size.padded_height, focus_size.padded_width), dtype=bool)
    needed[: focus_size.height, : focus_size.width] = cover
    return torch.from_numpy(needed)


class Predictor:
    """Runs one GFM model (or an ensemble) on images of any size.

    Args:
        models: a model, or several for an EN-median ensemble (e.g. TT, FT, BT);
            None: the bundled default, GFM-Lite (:data:`gfm.inference.models.DEFAULT_MODEL`).
        strategy: ``"hybrid"``, ``"single"``, ``"resize"``, a
            :class:`~gfm.inference.strategies.Strategy`, or None (default): the
            strategy measured best for the weights (``single`` for the bundled
            GFM-Lite, ``hybrid``, the paper's, for the released checkpoints and
            any file; :func:`gfm.inference.precision.inference_defaults`).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...
        max_pixels: working-resolution budget a pass (content pixels).
        optimize: fold batch norms and use channels-last (same outputs to ~1e-6).
        normalization: input normalisation; default from each model's
            ``checkpoint_meta`` (raw 0..255 RGB for the released weights).
        precision: ``"auto"`` (default), ``"fp32"`` (the released network's
            numbers) or ``"bf16"`` (autocast: about 1.5-2x faster on CPUs with
            AVX512-BF16 / AMX). ``auto`` is bf16 only on such CPUs and only for
            weights whose bf16 change was measured invisible
            (:mod:`gfm.inference.precision`); the choice is in :attr:`precision`.
        guide: a segmentation model whose mask steers the glance
            (:class:`~gfm.inference.guide.Guide`, e.g. ``load_guide("isnet-general-use")``);
            None (default): GFM alone. :meth:`from_name` takes ``guide="auto"``.

    Attributes:
        sparse_focus: for TT models, run the focus heads only around the glance
            transition area, the only place the fusion reads them (same alpha;
            on by default on CPU). Set to ``False`` to compute them everywhere.
    """

    def __init__(
        self,
        models: GFM | Sequence[GFM] | None = None,
        strategy: str | Strategy | None = None,
        *,
        device: str | torch.device = "auto",
        max_pixels: int = DEFAULT_MAX_PIXELS,
        optimize: bool = True,
        normalization: Normalization | None = None,
        precision: str = "auto",
        guide: Guide | None = None,
    ) -> None:
        if models is None:  # the bundled default model (works offline)
            from gfm.inference.models import load_model_spec

            models = load_model_spec()
        model_list = [models] if isinstance(models, GFM) else list(models)
        if not model_list:
            raise InputError("Predictor needs at least one model")
        defaults = inference_defaults(model_list[0])
        if strategy is None:  # the one measured best for these weights (with a guide, if it was measured so)
            strategy = (defaults.guided_strategy or defaults.strategy) if guide is not None else defaults.strategy
        self.strategy = get_strategy(strategy)
        self.device = resolve_device(device)
        if max_pixels < MIN_SIDE * MIN_SIDE:
            raise InputError(f"the working-resolution budget (--max-pixels) must be at least {MIN_SIDE}x{MIN_SIDE} = {MIN_SIDE * MIN_SIDE} pixels, got {max_pixels}")
        self.max_pixels = max_pixels
        self.precision = resolve_precision(precision, self.device, model_list)
        self.normalizations = [
            normalization or getattr(getattr(m, "checkpoint_meta", None), "normalization", None) or RAW_255 for m in model_list
        ]
        prepared = [optimize_for_inference(m) if optimize else m.eval() for m in model_list]
        # Run the focus heads only where the TT fusion reads them (same alpha, less work).
        # Measured on CPU (about 45 ms less a 1620x1080 photo); on a GPU the dense heads
        # take a few milliseconds and one launch, so they stay dense there.
        self.sparse_focus = self.device.type == "cpu"
        self.models = [m.to(self.device) for m in prepared]
        self.guide = guide

    @classmethod
    def from_name(
        cls,
        model: str | os.PathLike[str] | None = None,
        strategy: str | Strategy | None = None,
        *,
        guide: str | os.PathLike[str] | Guide | None = None,
        **options: Any,
    ) -> Predictor:
        """A predictor of one model given by name, file or run folder.

        Args:
            model: a name from ``gfm weights list`` (from the local weights
                cache, downloaded on first use), a checkpoint file (ours or released) or a ``gfm train`` run
                folder; ``None``: the default weights
                (:func:`gfm.inference.models.default_model_name`).
            strategy: as for :class:`Predictor`.
            guide: a guide's name (``"isnet-general-use"``), an ``.onnx`` file, a
                loaded :class:`~gfm.inference.guide.Guide`, ``"auto"`` (the default
                guide when its file is in the cache; never downloads) or None / ``"none"``
                (GFM alone, the default); see :func:`gfm.inference.guide.load_guide`.
            **options: the other keyword arguments of :class:`Predictor`
                (``device``, ``max_pixels``, ``precision`` ...).

        Raises:
            CheckpointError: unknown name, missing file, or weights neither in the
                cache nor downloadable (the message says how to get them).
        """
        from gfm.inference.guide import Guide, load_guide
        from gfm.inference.models import load_model_spec

        loaded = guide if isinstance(guide, Guide) or guide is None else load_guide(guide)
        return cls(load_model_spec(model), strategy, guide=loaded, **options)

    def _tensor(self, image: np.ndarray, size: WorkingSize, normalization: Normalization) -> torch.Tensor:
        x = torch.from_numpy(to_network_input(image, size)).permute(2, 0, 1)[None].to(self.device)
        return normalization.apply(x).contiguous(memory_format=torch.channels_last)

    def _run_model(
        self, model: GFM, normalization: Normalization, image: np.ndarray, hints: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            return self._run_model_at_precision(model, normalization, image, hints)

    def _run_model_at_precision(
        self, model: GFM, normalization: Normalization, image: np.ndarray, hints: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        height, width = image.shape[:2]
        strategy = self.strategy
        glance_size = working_size(height, width, strategy.glance_scale, self.max_pixels, model.output_stride)
        focus_size = glance_size if strategy.single_pass else working_size(height, width, strategy.focus_scale, self.max_pixels, model.output_stride)
        features = model.encode(self._tensor(image, glance_size, normalization))
        glance = model.predict_glance(features)
        classes_of = {head: glance[head][0].argmax(0).to(torch.uint8).cpu().numpy() for head in model.heads}
        needed = trimap = None
        if self.sparse_focus and model.heads == ["TT"]:
            # The TT fusion reads the focus alpha only in the transition area (after the
            # hints): run the focus heads only there (identical values; see gfm.models.decoders.regions).
            trimap = tt_glance_map(_tt_trimap_full_resolution(classes_of["TT"], glance_size, height, width), hints)
            needed = _focus_pixels_needed(trimap == 128, focus_size)
        if not strategy.single_pass:
            del features, glance  # free the 1/3-scale pass before the 1/2-scale one
            features = model.encode(self._tensor(image, focus_size, normalization))
        focus = model.predict_focus(features, needed)
        del features
        fused: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for head in model.heads:
            classes = classes_of[head]
            focus_full = from_network_output(focus[head][0, 0].float().cpu().numpy(), focus_size, height, width)
            fused[head] = _fuse_full_resolution(head, classes, glance_size, focus_full, trimap if head == "TT" else None, hints)
        if model.rim is None:
            return fused[model.heads[0]]
        stacked = torch.from_numpy(np.stack([fused[h][0] for h in model.heads])[None]).to(self.device)
        alpha = model.rim(stacked.to(next(model.rim.parameters()).dtype)).clamp(0.0, 1.0)[0, 0].float().cpu().numpy()
        return alpha, fused["TT"][1]

    @torch.inference_mode()
    def predict(self, image: ImageInput, *, trimap: bool = False, hints: np.ndarray | None = None) -> MattingResult:
        """Predict the alpha matte of one image.

        Args:
            image: a path (read with :func:`gfm.io.read_image`: EXIF orientation
                applied), a PIL image (converted the same way), or a uint8 array:
                ``(H, W, 3)`` RGB, ``(H, W)`` gray or ``(H, W, 4)`` RGBA (its alpha
                is ignored).
            trimap: also return the glance map.
            hints: ``(H, W)`` uint8 :class:`~gfm.io.hints.Hint` codes overriding the
                glance classes (as :class:`~gfm.inference.guided.GuidedPredictor` takes
                them); with a :attr:`guide`, its hints fill where these say unknown.

        Returns:
            A :class:`MattingResult` at the input's full resolution.
        """
        image = as_rgb(image)
        if image.shape[0] == 0 or image.shape[1] == 0:
            raise InputError("the image has zero size")
        hints, guided = self.hints_for(image, hints)
        outputs = [self._run_model(m, n, image, hints) for m, n in zip(self.models, self.normalizations)]
        if len(outputs) == 1:
            alpha, glance_map = outputs[0]
        else:
            alpha = np.median(np.stack([a for a, _ in outputs]), axis=0).astype(np.float32)
            glance_map = outputs[0][1]
        np.clip(alpha, 0.0, 1.0, out=alpha)  # in place: alpha is ours
        if guided is not None and hints is not None:
            guided.bound(alpha, hints)  # GFM refines the guide where it decides, never contradicts it
        if hints is not None:
            force_solid(alpha, hints)  # RIM and medians must not undo what the hints say
        return MattingResult(alpha, glance_map if trimap else None, image)

    def hints_for(self, image: np.ndarray, hints: np.ndarray | None = None) -> tuple[np.ndarray | None, GuideOutput | None]:
        """The hints a prediction of ``image`` uses: ``hints`` (checked) merged over the
        :attr:`guide`'s (which runs here), or None when there are neither; and the guide's output."""
        from gfm.inference.guide import hints_of, merge_hints

        if hints is not None:
            hints = checked_hints(hints, image.shape[:2])
        guided = self.guide.run(image) if self.guide is not None else None
        return merge_hints(hints, hints_of(guided)), guided


__all__ = ["DEFAULT_MAX_PIXELS", "ImageInput", "MattingResult", "Predictor", "as_rgb", "resolve_device"]
