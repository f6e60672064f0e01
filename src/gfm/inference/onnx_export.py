"""Export a GFM network to ONNX, for onnxruntime (:mod:`gfm.inference.onnx_runtime`).

It lives beside the runtime, in inference: it records how the weights are best driven
(their measured strategies, from :mod:`gfm.inference.precision`) and checks its file with
the runtime, while the network (:mod:`gfm.models`) knows nothing of how it is run.

The exported graph holds exactly the two passes a strategy needs::

    inputs   glance_image  (1, 3, Hg, Wg) float32 RGB in 0..255
             focus_image   (1, 3, Hf, Wf) float32 RGB in 0..255
    outputs  glance        (1, C, Hg, Wg) float32 glance logits (C = 3 for TT, 2 for FT / BT)
             focus         (1, 1, Hf, Wf) float32 focus alpha in [0, 1]

Heights and widths are dynamic (any multiple of 32, the encoder's output
stride) and independent between the inputs: the ``hybrid`` strategy feeds the
image at 1/3 scale to the glance pass and at 1/2 scale to the focus pass in one
call. onnxruntime computes every output of a graph, so one graph with both
passes does exactly the hybrid work; the one-scale strategies feed the same
array to both inputs (the encoder then runs twice). The input normalisation of
the weights is part of the graph. The model's metadata (``metadata_props``,
keys ``gfm.*``) names the model, its variant, the normalisation and the
strategy measured best for the weights (what :class:`~gfm.inference.Predictor`
uses by default), so the runtime needs nothing else.

Two rewrites make the network exportable with dynamic sizes (same values to
about 1e-5): batch norms are folded (:func:`~gfm.models.optimize.optimize_for_inference`)
and the pyramid pooling's adaptive average pools, which the exporters record
for the traced size only, become :class:`ExportableAdaptiveAvgPool2d`.
The TorchScript exporter (``dynamo=False``) is used: it exports this network in
seconds and records the shape arithmetic, where the dynamo exporter of torch
2.13 took minutes here and baked the traced size into its adaptive-pool
decomposition.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gfm.errors import ConfigError
from gfm.models.gfm import GFM
from gfm.models.normalization import RAW_255, Normalization
from gfm.models.optimize import optimize_for_inference

#: Version of the metadata layout below; the runtime refuses files of a newer one.
ONNX_FORMAT_VERSION = 1
#: ONNX operator set of the exported graphs (onnxruntime >= 1.16 runs it).
OPSET = 17
INPUT_NAMES = ("glance_image", "focus_image")
OUTPUT_NAMES = ("glance", "focus")
QUANTIZATIONS = ("none", "int8")
#: The largest difference to PyTorch an fp32 export may have (glance logits, focus alpha).
CHECK_TOLERANCE = 1e-4


class ExportableAdaptiveAvgPool2d(nn.Module):
    """``nn.AdaptiveAvgPool2d(size)`` written as two matrix products, so that it
    exports with dynamic input sizes.

    Output cell ``i`` averages input rows ``floor(i H / s)`` to
    ``ceil((i + 1) H / s) - 1``, PyTorch's adaptive bins (likewise for columns):
    ``out = P_h @ x @ P_w^T`` with ``P`` the row-normalised bin masks.
    ``(B, C, H, W) -> (B, C, s, s)``; equal to the PyTorch pool to float rounding.
    """

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def _bins(self, length: int, like: torch.Tensor) -> torch.Tensor:
        """``(size, length)`` averaging matrix of the adaptive bins."""
        cell = torch.arange(self.size, device=like.device)
        start = torch.div(cell * length, self.size, rounding_mode="floor")
        end = torch.div((cell + 1) * length + self.size - 1, self.size, rounding_mode="floor")
        index = torch.arange(length, device=like.device)
        mask = ((index[None] >= start[:, None]) & (index[None] < end[:, None])).to(like.dtype)
        return mask / mask.sum(1, keepdim=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("ih,bchw,jw->bcij", self._bins(x.shape[-2], x), x, self._bins(x.shape[-1], x))


def _exportable_pools(model: nn.Module) -> int:
    """Replace every ``nn.AdaptiveAvgPool2d`` with a square int output size in place; return how many."""
    replaced = 0
    for module in list(model.modules()):
        for name, child in module.named_children():
            if isinstance(child, nn.AdaptiveAvgPool2d):
                size = child.output_size
                sizes = (size, size) if isinstance(size, int) else tuple(size)
                if sizes[0] != sizes[1] or sizes[0] is None:
                    raise ConfigError(f"cannot export an adaptive pool of output size {size!r}")
                setattr(module, name, ExportableAdaptiveAvgPool2d(int(sizes[0])))
                replaced += 1
    return replaced


class TwoPassGFM(nn.Module):
    """The graph that is exported: normalise, then glance on one input and focus on the other.

    ``(glance_image (1, 3, Hg, Wg), focus_image (1, 3, Hf, Wf))``, RGB in 0..255
    -> ``(glance logits (1, C, Hg, Wg), focus alpha (1, 1, Hf, Wf))``.
    """

    def __init__(self, model: GFM, normalization: Normalization) -> None:
        super().__init__()
        self.model = model
        self.head = model.heads[0]
        self.register_buffer("mean", torch.tensor(normalization.mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(normalization.std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, glance_image: torch.Tensor, focus_image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        glance = self.model.predict_glance(self.model.encoder((glance_image - self.mean) / self.std))[self.head]
        focus = self.model.predict_focus(self.model.encoder((focus_image - self.mean) / self.std))[self.head]
        return glance, focus


@dataclass(frozen=True)
class ExportInfo:
    """What was exported (also stored in the file's metadata, see :func:`export_metadata`)."""

    path: Path
    model_name: str
    variant: str
    quantization: str
    size_bytes: int
    max_difference: float


def export_metadata(model: GFM, model_name: str, normalization: Normalization, quantization: str = "none") -> dict[str, str]:
    """The ``gfm.*`` metadata stored in an exported file (string values; JSON where structured)."""
    from gfm.inference.precision import inference_defaults
    from gfm.inference.strategies import STRATEGIES

    provenance = getattr(getattr(model, "checkpoint_meta", None), "provenance", {}) or {}
    return {
        "gfm.format_version": str(ONNX_FORMAT_VERSION),
        "gfm.model": model_name,
        "gfm.variant": model.config.name,
        "gfm.config": json.dumps(model.config.to_dict()),
        "gfm.head": model.heads[0],
        "gfm.output_stride": str(model.output_stride),
        "gfm.input": "RGB float32 in 0..255, NCHW, batch 1; height and width multiples of gfm.output_stride",
        "gfm.normalization": json.dumps({**normalization.to_dict(), "applied": "inside the graph"}),
        "gfm.strategies": json.dumps({name: {"glance_scale": s.glance_scale, "focus_scale": s.focus_scale} for name, s in STRATEGIES.items()}),
        "gfm.recommended_strategy": inference_defaults(model).strategy,  # measured best for these weights
        "gfm.recommended_guided_strategy": inference_defaults(model).guided_strategy or inference_defaults(model).strategy,
        "gfm.quantization": quantization,
        "gfm.provenance": json.dumps(provenance, default=str),
    }


def _export_float(model: GFM, normalization: Normalization, path: Path, sample_size: tuple[int, int]) -> None:
    """Trace ``model`` (prepared for export) into an fp32 ONNX file at ``path``."""
    wrapper = TwoPassGFM(model, normalization).eval()
    height, width = sample_size
    stride = model.output_stride
    glance = torch.rand(1, 3, height, width) * 255
    focus = torch.rand(1, 3, height + stride, width + 2 * stride) * 255  # another size: nothing shape-specific is traced
    dynamic = {
        "glance_image": {2: "glance_height", 3: "glance_width"},
        "focus_image": {2: "focus_height", 3: "focus_width"},
        "glance": {2: "glance_height", 3: "glance_width"},
        "focus": {2: "focus_height", 3: "focus_width"},
    }
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(
            wrapper, (glance, focus), str(path), dynamo=False, input_names=list(INPUT_NAMES),
            output_names=list(OUTPUT_NAMES), dynamic_axes=dynamic, opset_version=OPSET, do_constant_folding=True,
        )


def _add_metadata(path: Path, metadata: dict[str, str]) -> None:
    import onnx

    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "gfm"
    onnx.save(proto, str(path))


def _quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation (weights int8, activations quantised per call) of
    the convolutions and matrix products: onnxruntime's ``quantize_dynamic``."""
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        raise ConfigError('--quantize int8 needs onnxruntime: pip install "gfm-matting[onnx]"') from None
    import logging

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # quantize_dynamic logs advice on the root logger
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QUInt8, op_types_to_quantize=["Conv", "MatMul"])
    finally:
        root.setLevel(level)


def export_onnx(
    model: GFM,
    path: str | os.PathLike[str],
    *,
    model_name: str,
    quantize: str = "none",
    overwrite: bool = False,
    sample_size: tuple[int, int] = (96, 128),
) -> ExportInfo:
    """Write ``model`` as an ONNX file (see the module docstring for its inputs and outputs).

    Example::

        from gfm.inference.models import load_model_spec
        export_onnx(load_model_spec("gfm-lite"), "gfm-lite.onnx", model_name="gfm-lite")

    Args:
        model: a loaded single-head model (TT, FT or BT); left unchanged.
        path: the ``.onnx`` file to write (atomically).
        model_name: recorded in the metadata (e.g. the ``--model`` given).
        quantize: ``"none"`` (fp32) or ``"int8"`` (dynamic int8 quantisation, onnxruntime).
        overwrite: replace an existing file at ``path``.
        sample_size: the trace's glance input size (multiples of 32; any).

    Raises:
        ConfigError: a RIM model, an unknown ``quantize``, a missing ``onnx`` /
            ``onnxruntime`` package, or an fp32 export that differs from PyTorch
            by more than :data:`CHECK_TOLERANCE` (:func:`check_export`; nothing is written).
        OutputError: ``path`` exists and ``overwrite`` is false.
    """
    from gfm.errors import OutputError
    from gfm.io.atomic import atomic_write

    path = Path(path)
    if quantize not in QUANTIZATIONS:
        raise ConfigError(f"unknown quantisation {quantize!r}; choose one of {', '.join(QUANTIZATIONS)}")
    if model.rim is not None:
        raise ConfigError(f"{model_name}: a RIM model integrates three heads at full resolution, which the ONNX "
                          "runtime does not do; export one of its TT, FT or BT models instead")
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give the file to write, e.g. {path / (model_name + '.onnx')}")
    if path.exists() and not overwrite:
        raise OutputError(f"{path}: already exists; pass --overwrite to replace it")
    try:
        import onnx  # noqa: F401  (writing the metadata needs it)
    except ImportError:
        raise ConfigError('gfm export needs the onnx package: pip install "gfm-matting[onnx]"') from None
    normalization = getattr(getattr(model, "checkpoint_meta", None), "normalization", None) or RAW_255
    prepared = optimize_for_inference(model, channels_last=False)
    _exportable_pools(prepared)
    with atomic_write(path, replace=overwrite) as tmp:
        _export_float(prepared, normalization, tmp, sample_size)
        if quantize == "int8":
            float_file = tmp.with_name(tmp.name + ".fp32.onnx")
            tmp.replace(float_file)
            try:
                _quantize_int8(float_file, tmp)
            finally:
                float_file.unlink(missing_ok=True)
        _add_metadata(tmp, export_metadata(model, model_name, normalization, quantize))
        difference = check_export(model, tmp)
        if quantize == "none" and difference > CHECK_TOLERANCE:
            raise ConfigError(f"{model_name}: the exported graph differs from PyTorch by {difference:.2g} (more than "
                              f"{CHECK_TOLERANCE:g}); nothing was written. Please report it with the model and gfm version")
    return ExportInfo(path, model_name, model.config.name, quantize, path.stat().st_size, difference)


def check_export(model: GFM, path: str | os.PathLike[str], sizes: tuple[tuple[int, int], ...] = ((128, 160), (224, 96))) -> float:
    """The largest absolute difference between an exported file's outputs and PyTorch's.

    Both outputs (glance logits and focus alpha) are compared, the glance pass
    at one size of ``sizes`` and the focus pass at the next (a seeded test
    image: smooth colour ramps with noise).
    """
    import numpy as np

    from gfm.inference.onnx_runtime import OnnxModel

    session = OnnxModel(path)
    rng = np.random.default_rng(0)

    def picture(height: int, width: int) -> np.ndarray:
        ramp = np.linspace(0, 255, width, dtype=np.float32)[None, None, :] * np.linspace(0.2, 1, height, dtype=np.float32)[None, :, None]
        noisy = np.concatenate([ramp, ramp[:, ::-1], 255 - ramp]) + rng.normal(0, 20, (3, height, width)).astype(np.float32)
        return np.clip(noisy, 0, 255)[None].astype(np.float32)

    worst = 0.0
    for first, second in zip(sizes, sizes[1:] + sizes[:1]):
        glance_image, focus_image = picture(*first), picture(*second)
        expected = pytorch_reference(model, glance_image, focus_image)
        got = session.run(glance_image, focus_image)
        worst = max(worst, *(float(np.abs(a - b).max()) for a, b in zip(expected, got)))
    return worst


def pytorch_reference(model: GFM, glance_image: Any, focus_image: Any) -> tuple[Any, Any]:
    """The PyTorch outputs that an exported file must reproduce, as numpy arrays.

    Args:
        glance_image, focus_image: ``(1, 3, H, W)`` float32 numpy RGB in 0..255
            (H, W multiples of the output stride).
    """
    normalization = getattr(getattr(model, "checkpoint_meta", None), "normalization", None) or RAW_255
    training = model.training
    wrapper = TwoPassGFM(model.eval(), normalization)
    try:
        with torch.no_grad():
            glance, focus = wrapper(torch.from_numpy(glance_image), torch.from_numpy(focus_image))
    finally:
        model.train(training)  # the caller's model is left as it was
    return glance.numpy(), focus.numpy()


__all__ = ["CHECK_TOLERANCE", "ExportInfo", "ExportableAdaptiveAvgPool2d", "check_export", "export_metadata", "export_onnx", "pytorch_reference"]
