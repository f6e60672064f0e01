"""Matting with an exported ONNX file through onnxruntime, without PyTorch.

    from gfm.inference.onnx_runtime import OnnxPredictor
    predictor = OnnxPredictor("gfm-lite.onnx")       # written by `gfm export gfm-lite gfm-lite.onnx`
    result = predictor.predict("photo.jpg")           # a MattingResult, as Predictor.predict returns
    result.alpha, result.cutout()

The steps around the network are those of :class:`~gfm.inference.Predictor`
(the same working sizes, padding, up-sampling and fusion, from
:mod:`gfm.inference.sizing` and :mod:`gfm.inference.result`), so the alphas
agree with PyTorch's to float rounding. What differs: the focus decoder runs
on the whole focus pass (PyTorch's CPU path runs its heads around the
transition area only; the fused alpha is the same), reduced precision is an
int8 file (``gfm export --quantize int8``) rather than bf16, and RIM models
and the web page's corrections (which keep the network's maps) need the
PyTorch predictor. Hints and guides (:mod:`gfm.inference.guide`) work here too.

This module imports neither torch nor any module that does; it needs
``onnxruntime`` (``pip install "gfm-matting[onnx]"``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gfm.errors import CheckpointError, ConfigError, InputError
from gfm.inference.result import ImageInput, MattingResult, as_rgb, checked_hints, force_solid, fuse_full_resolution, tt_trimap_full_resolution
from gfm.inference.sizing import DEFAULT_MAX_PIXELS, MIN_SIDE, WorkingSize, from_network_output, to_network_input, working_size
from gfm.inference.strategies import STRATEGIES, Strategy, get_strategy

if TYPE_CHECKING:
    from gfm.inference.guide import Guide

#: The newest metadata layout this runtime reads (:data:`gfm.inference.onnx_export.ONNX_FORMAT_VERSION`).
SUPPORTED_FORMAT_VERSION = 1
#: Glance classes of each head an exported file may have (RIM models are not exported).
GLANCE_CLASSES = {"TT": 3, "FT": 2, "BT": 2}
#: Output strides of GFM's encoders (input sizes are multiples of it).
OUTPUT_STRIDES = (8, 16, 32, 64)


def _whole_number(model: OnnxModel, key: str) -> int:
    """A metadata value that must be a whole number (``gfm.format_version``, ``gfm.output_stride``)."""
    text = model._metadata(key)
    try:
        return int(text)
    except ValueError:
        raise model._faulty(f"its metadata {key} is {text!r}, not a whole number") from None


def is_onnx_file(spec: str | os.PathLike[str]) -> bool:
    """Whether a ``--model`` value names an ONNX file (by its ``.onnx`` suffix)."""
    return Path(os.fspath(spec)).suffix.lower() == ".onnx"


class OnnxModel:
    """One exported GFM file in an onnxruntime session.

    Args:
        path: a file written by ``gfm export``.
        threads: onnxruntime intra-op threads (None: onnxruntime's default, one a core).

    Attributes:
        metadata: the file's ``gfm.*`` metadata (model name, variant, normalisation ...).
        head: ``"TT"``, ``"FT"`` or ``"BT"``.
        output_stride: input heights and widths must be multiples of it.

    Raises:
        ConfigError: onnxruntime is not installed.
        CheckpointError: a missing file, a file onnxruntime cannot load, an ONNX
            file that ``gfm export`` did not write, or a faulty one: metadata that
            is missing or not what it must be (a stride that is not a number ...),
            or a graph whose outputs, on a tiny probe run at load, do not have the
            shapes its metadata implies. The message names the model file.
    """

    def __init__(self, path: str | os.PathLike[str], threads: int | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise CheckpointError(f"{self.path}: no such ONNX file (write one with `gfm export MODEL {self.path}`)")
        try:
            import onnxruntime as ort
        except ImportError:
            raise ConfigError(f'{self.path}: running ONNX files needs onnxruntime: pip install "gfm-matting[onnx]" (or onnxruntime)') from None
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types
            raise CheckpointError(f"{self.path}: onnxruntime cannot load this file ({str(error)[:200]})") from None
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)
        version = self.metadata.get("gfm.format_version")
        inputs = [i.name for i in self.session.get_inputs()]
        if version is None or inputs != ["glance_image", "focus_image"]:
            raise CheckpointError(f"{self.path}: not a GFM model written by `gfm export` (no gfm metadata, inputs {inputs}); "
                                  "export one with `gfm export MODEL OUT.onnx`")
        if _whole_number(self, "gfm.format_version") > SUPPORTED_FORMAT_VERSION:
            raise CheckpointError(f"{self.path}: written by a newer gfm (ONNX format {version}); upgrade gfm to run it")
        self.head = self._metadata("gfm.head")
        if self.head not in GLANCE_CLASSES:
            raise self._faulty(f"its metadata names the head {self.head!r}, which is none of {', '.join(GLANCE_CLASSES)}")
        self.output_stride = _whole_number(self, "gfm.output_stride")
        if self.output_stride not in OUTPUT_STRIDES:
            raise self._faulty(f"its metadata gives the output stride {self.output_stride}; GFM networks have one of "
                               f"{', '.join(map(str, OUTPUT_STRIDES))}")
        outputs = [o.name for o in self.session.get_outputs()]
        if not {"glance", "focus"} <= set(outputs):
            raise self._faulty(f"its outputs are {outputs}, not glance and focus")
        recommended = self.metadata.get("gfm.recommended_strategy")
        if recommended is not None and recommended not in STRATEGIES:
            raise self._faulty(f"its metadata recommends the strategy {recommended!r}, which is none of {', '.join(STRATEGIES)}")
        self._probe()

    def _metadata(self, key: str) -> str:
        value = self.metadata.get(key)
        if value is None:
            raise self._faulty(f"its metadata has no {key}")
        return value

    def _faulty(self, what: str) -> CheckpointError:
        """The error for a model file that is broken (not the photo's fault, not gfm's)."""
        return CheckpointError(f"{self.path}: this model file is faulty: {what}; export it again with `gfm export MODEL {self.path.name}`")

    def _probe(self) -> None:
        """Run the graph once on two tiny inputs of different sizes (odd multiples of the stride,
        as a hybrid pass gives): its outputs must have the shapes the runtime reads, and be finite."""
        stride = self.output_stride
        glance_image = np.full((1, 3, 3 * stride, 5 * stride), 128.0, np.float32)
        focus_image = np.full((1, 3, 5 * stride, 3 * stride), 128.0, np.float32)
        glance, focus = self.run(glance_image, focus_image)
        for name, array in (("glance", glance), ("focus", focus)):
            if not np.isfinite(array).all():
                raise self._faulty(f"its {name} output holds NaN or infinite values on a plain grey probe image")

    def _check_outputs(self, glance_image: np.ndarray, focus_image: np.ndarray, glance: np.ndarray, focus: np.ndarray) -> None:
        expected_glance = (1, GLANCE_CLASSES[self.head], *glance_image.shape[2:])
        expected_focus = (1, 1, *focus_image.shape[2:])
        for name, array, expected in (("glance", glance, expected_glance), ("focus", focus, expected_focus)):
            if tuple(array.shape) != expected or array.dtype != np.float32:
                raise self._faulty(f"for inputs of {glance_image.shape[2]}x{glance_image.shape[3]} and {focus_image.shape[2]}x"
                                   f"{focus_image.shape[3]} pixels its {name} output is {array.dtype} {tuple(array.shape)}, "
                                   f"not float32 {expected} (for a {self.head} head)")

    @property
    def name(self) -> str:
        """``MODEL (VARIANT[, int8])`` as ``gfm matte`` reports it."""
        quantization = self.metadata.get("gfm.quantization", "none")
        suffix = "" if quantization == "none" else f", {quantization}"
        return f"{self.metadata.get('gfm.model', self.path.stem)} ({self.metadata.get('gfm.variant', '?')}{suffix}, ONNX)"

    @property
    def normalization(self) -> dict[str, Any]:
        """The weights' input normalisation (already part of the graph: informative)."""
        try:
            value = json.loads(self._metadata("gfm.normalization"))
        except json.JSONDecodeError:
            raise self._faulty("its gfm.normalization metadata is not JSON") from None
        if not isinstance(value, dict):
            raise self._faulty("its gfm.normalization metadata is not a JSON object")
        return value

    def run(self, glance_image: np.ndarray, focus_image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Both passes in one call.

        Args:
            glance_image, focus_image: ``(1, 3, H, W)`` float32 RGB in 0..255,
                H and W multiples of :attr:`output_stride` (each input its own size).

        Returns:
            ``(glance logits (1, C, Hg, Wg), focus alpha (1, 1, Hf, Wf) in [0, 1])``.
        """
        try:
            glance, focus = self.session.run(["glance", "focus"], {"glance_image": glance_image, "focus_image": focus_image})
        except Exception as error:  # onnxruntime's own exception types: a graph that fails on valid inputs
            message = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
            if "allocate" in message.lower():
                raise CheckpointError(f"{self.path}: onnxruntime ran out of memory on inputs of {glance_image.shape[2]}x"
                                      f"{glance_image.shape[3]} and {focus_image.shape[2]}x{focus_image.shape[3]} pixels "
                                      f"({message}); lower --max-pixels, or, if the model asks for far more than its size "
                                      "suggests, the file is faulty: export it again") from None
            raise self._faulty(f"onnxruntime failed running it on inputs of {glance_image.shape[2]}x{glance_image.shape[3]} and "
                               f"{focus_image.shape[2]}x{focus_image.shape[3]} pixels ({message})") from None
        self._check_outputs(glance_image, focus_image, glance, focus)
        return glance, focus


def _nchw(image: np.ndarray, size: WorkingSize) -> np.ndarray:
    """``(H, W, 3)`` uint8 -> ``(1, 3, padded_h, padded_w)`` float32 in 0..255."""
    return np.ascontiguousarray(to_network_input(image, size).transpose(2, 0, 1)[None])


class OnnxPredictor:
    """:class:`~gfm.inference.Predictor` for exported ONNX files: same strategies,
    same :class:`~gfm.inference.MattingResult` (alpha, glance map, cutout ...).

    Args:
        models: an ONNX file (or several, for a per-pixel median ensemble), or
            loaded :class:`OnnxModel` objects.
        strategy: ``"hybrid"``, ``"single"``, ``"resize"``, a
            :class:`~gfm.inference.strategies.Strategy`, or None (default): the
            strategy recorded in the (first) file, the one measured best for its
            weights (as :class:`~gfm.inference.Predictor` chooses it).
        max_pixels: working-resolution budget a pass (content pixels).
        threads: onnxruntime intra-op threads (None: onnxruntime's default).
        guide: a segmentation model whose mask steers the glance
            (:func:`gfm.inference.guide.load_guide`), or None.

    Attributes:
        precision: ``"fp32"`` or ``"int8"``, as the (first) file was exported.
    """

    def __init__(
        self,
        models: str | os.PathLike[str] | OnnxModel | Sequence[str | os.PathLike[str] | OnnxModel],
        strategy: str | Strategy | None = None,
        *,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        threads: int | None = None,
        guide: Guide | None = None,
    ) -> None:
        self.guide = guide
        items = [models] if isinstance(models, (str, os.PathLike, OnnxModel)) else list(models)
        if not items:
            raise InputError("OnnxPredictor needs at least one ONNX file")
        if max_pixels < MIN_SIDE * MIN_SIDE:
            raise InputError(f"the working-resolution budget (--max-pixels) must be at least {MIN_SIDE}x{MIN_SIDE} = {MIN_SIDE * MIN_SIDE} pixels, got {max_pixels}")
        self.max_pixels = max_pixels
        self.models = [m if isinstance(m, OnnxModel) else OnnxModel(m, threads) for m in items]
        first = self.models[0]
        if strategy is None:  # measured best for the weights (with a guide: as measured with one)
            recommended = first.metadata.get("gfm.recommended_strategy", "hybrid")
            strategy = first.metadata.get("gfm.recommended_guided_strategy", recommended) if guide is not None else recommended
        self.strategy = get_strategy(strategy)
        quantization = first.metadata.get("gfm.quantization", "none")
        self.precision = "fp32" if quantization == "none" else quantization

    def _run_model(self, model: OnnxModel, image: np.ndarray, hints: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        height, width = image.shape[:2]
        strategy = self.strategy
        glance_size = working_size(height, width, strategy.glance_scale, self.max_pixels, model.output_stride)
        focus_size = glance_size if strategy.single_pass else working_size(height, width, strategy.focus_scale, self.max_pixels, model.output_stride)
        glance_input = _nchw(image, glance_size)
        focus_input = glance_input if strategy.single_pass else _nchw(image, focus_size)
        glance, focus = model.run(glance_input, focus_input)
        classes = glance[0].argmax(0).astype(np.uint8)
        focus_full = from_network_output(focus[0, 0], focus_size, height, width)
        trimap = tt_trimap_full_resolution(classes, glance_size, height, width) if model.head == "TT" else None
        return fuse_full_resolution(model.head, classes, glance_size, focus_full, trimap, hints)

    def predict(self, image: ImageInput, *, trimap: bool = False, hints: np.ndarray | None = None) -> MattingResult:
        """Predict the alpha matte of one image (as :meth:`Predictor.predict <gfm.inference.Predictor.predict>`).

        Args:
            image: a path, a PIL image, or a uint8 ``(H, W, 3)`` RGB / ``(H, W)``
                gray / ``(H, W, 4)`` RGBA array.
            trimap: also return the glance map.
            hints: ``(H, W)`` uint8 :class:`~gfm.io.hints.Hint` codes overriding the
                glance classes (``gfm matte --hint``); the :attr:`guide`'s fill the rest.

        Returns:
            A :class:`~gfm.inference.MattingResult` at the input's full resolution.
        """
        from gfm.inference.guide import hints_of, merge_hints

        image = as_rgb(image)
        if image.shape[0] == 0 or image.shape[1] == 0:
            raise InputError("the image has zero size")
        if hints is not None:
            hints = checked_hints(hints, image.shape[:2])
        guided = self.guide.run(image) if self.guide is not None else None
        hints = merge_hints(hints, hints_of(guided))
        outputs = [self._run_model(model, image, hints) for model in self.models]
        if len(outputs) == 1:
            alpha, glance_map = outputs[0]
        else:
            alpha = np.median(np.stack([a for a, _ in outputs]), axis=0).astype(np.float32)
            glance_map = outputs[0][1]
        np.clip(alpha, 0.0, 1.0, out=alpha)
        if guided is not None and hints is not None:
            guided.bound(alpha, hints)
        if hints is not None:
            force_solid(alpha, hints)
        return MattingResult(alpha, glance_map if trimap else None, image)


__all__ = ["OnnxModel", "OnnxPredictor", "is_onnx_file"]
