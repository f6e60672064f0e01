"""Model complexity: parameters and multiply-accumulates (the paper's Table 7).

Counting runs one forward pass of a copy of the network on PyTorch's
``meta`` device: shapes only, no memory for weights or activations, well
under a second even for GFM(r101) at 800 x 800.

MACs are counted two ways (:class:`MacCount`):

* ``conv``: :class:`torch.utils.flop_counter.FlopCounterMode` (convolutions
  and matrix products), FLOPs / 2. GFM(r)-TT at 800 x 800: 131.81 G.
* ``paper``: what the paper's Table 7 reports (132.28 GMac for GFM(r)),
  which is the convention of the module-hook counters of the time (ptflops):
  ``conv`` plus one MAC per output element for convolution biases, two per
  element for batch norms (affine), one per element for ReLUs, one per input
  element for pooling and one per output element for the decoders' bilinear
  up-sampling. The pyramid-pooling module's own resizes (``align_corners=True``;
  a functional call in the released code that such counters do not see, about
  0.001 G) and element-wise additions, concatenations, sigmoids and the
  fusion are not counted. GFM(r)-TT at 800 x 800: 132.28 G.

Parameters (:class:`ParameterCount`): ``used`` are those the forward pass
actually reads (checked on the meta pass); ``total`` adds, for released
checkpoints, the tensors they store that the network never uses (the
backbones' ImageNet classifiers and, for r2b, the replaced stem), which the
paper's parameter counts include.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode

from gfm.errors import InputError
from gfm.models.gfm import GFM, ModelConfig

__all__ = [
    "RELEASED_UNUSED_PARAMETERS",
    "MacCount",
    "ParameterCount",
    "count_complexity",
]

#: Parameters stored in the released checkpoints of each backbone but not
#: used by the forward pass (identical for TT, FT, BT and RIM).
RELEASED_UNUSED_PARAMETERS: dict[str, int] = {
    # resnet.fc: 512 -> 1000 classifier
    "r34": 512 * 1000 + 1000,
    # resnet.fc: 2048 -> 1000 classifier
    "r101": 2048 * 1000 + 1000,
    # densenet.features.norm5 (weight, bias) and densenet.classifier 1024 -> 1000
    "d121": 2 * 1024 + 1024 * 1000 + 1000,
    # resnet.conv1 (7x7, 3 -> 64) and resnet.bn1 (the stem r2b replaces), resnet.fc,
    # psp1 (3x3 conv 512 -> 64 with bias, batch norm)
    "r34_2b": 64 * 3 * 7 * 7 + 2 * 64 + 512 * 1000 + 1000 + 512 * 64 * 9 + 64 + 2 * 64,
}

_CONVOLUTIONS = {"convolution", "_convolution", "conv2d"}
_BATCH_NORMS = {"native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training", "batch_norm"}
_RELUS = {"relu", "relu_"}
_POOLS = {
    "max_pool2d",
    "max_pool2d_with_indices",
    "avg_pool2d",
    "adaptive_avg_pool2d",
    "_adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "mean",  # adaptive average pooling to 1 x 1 is a mean over H, W
}
_UPSAMPLES = {"upsample_bilinear2d", "upsample_nearest2d", "_upsample_bilinear2d_aa"}


@dataclass(frozen=True)
class MacCount:
    """Multiply-accumulates of one forward pass, by kind (counts, not billions).

    Attributes:
        conv: convolutions and matrix products (FlopCounterMode FLOPs / 2).
        conv_bias: one per output element of a convolution with a bias.
        batch_norm: two per element of an affine batch norm.
        relu: one per element.
        pooling: one per input element.
        upsampling: one per output element of the decoders' bilinear resizes.
    """

    conv: int
    conv_bias: int = 0
    batch_norm: int = 0
    relu: int = 0
    pooling: int = 0
    upsampling: int = 0

    @property
    def paper(self) -> int:
        """Total in the convention of the paper's Table 7 (see the module doc)."""
        return self.conv + self.conv_bias + self.batch_norm + self.relu + self.pooling + self.upsampling

    def as_dict(self) -> dict[str, int]:
        return {
            "conv": self.conv,
            "conv_bias": self.conv_bias,
            "batch_norm": self.batch_norm,
            "relu": self.relu,
            "pooling": self.pooling,
            "upsampling": self.upsampling,
            "paper": self.paper,
        }


@dataclass(frozen=True)
class ParameterCount:
    """Parameter counts (numbers of scalars).

    Attributes:
        used: parameters the forward pass reads.
        total: ``used`` + parameters of the network the forward never reads
            + (released checkpoints) parameters stored for unused modules.
    """

    used: int
    total: int


class _ElementwiseCounter(TorchDispatchMode):
    """Counts the element-wise MACs of :class:`MacCount` and the parameters read."""

    def __init__(self, parameters: list[torch.nn.Parameter]) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()
        self._parameters = {id(p): p for p in parameters}
        self.used: dict[int, torch.nn.Parameter] = {}

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        for value in tree_flatten((args, kwargs))[0]:
            if isinstance(value, torch.Tensor) and id(value) in self._parameters:
                self.used[id(value)] = self._parameters[id(value)]
        out = func(*args, **kwargs)
        name = func.overloadpacket.__name__
        first = out[0] if isinstance(out, (tuple, list)) else out
        if name in _CONVOLUTIONS:
            if len(args) > 2 and args[2] is not None:
                self.counts["conv_bias"] += first.numel()
        elif name in _BATCH_NORMS:
            affine = len(args) > 1 and args[1] is not None
            self.counts["batch_norm"] += args[0].numel() * (2 if affine else 1)
        elif name in _RELUS:
            self.counts["relu"] += first.numel()
        elif name in _POOLS:
            self.counts["pooling"] += args[0].numel()
        elif name in _UPSAMPLES:
            # upsample_bilinear2d(input, output_size, align_corners, ...): the
            # pyramid pooling's align_corners=True resizes are not counted (module doc)
            align_corners = bool(args[2]) if len(args) > 2 and isinstance(args[2], bool) else False
            if not align_corners:
                self.counts["upsampling"] += first.numel()
        return out


def _meta_twin(config: ModelConfig) -> GFM:
    from gfm.models.registry import create_model_from_config

    with torch.device("meta"):
        return create_model_from_config(config).eval()


def count_complexity(
    model: GFM | ModelConfig, height: int, width: int | None = None, *, released: bool | None = None
) -> tuple[ParameterCount, MacCount]:
    """Parameters and MACs of one forward pass on a ``(1, 3, height, width)`` input.

    Args:
        model: a network or its :class:`~gfm.models.gfm.ModelConfig`; only
            the architecture matters (the count runs on a meta-device copy).
        height, width: input size in pixels, multiples of the network's
            output stride (32); ``width`` defaults to ``height``.
        released: add the unused parameters of the released checkpoints
            (:data:`RELEASED_UNUSED_PARAMETERS`) to ``total``. Default: for a
            model, whether it was loaded from a released file; for a config,
            whether the backbone has released weights.

    Returns:
        ``(parameters, macs)``.

    Example::

        params, macs = count_complexity(ModelConfig("r34", "TT"), 800)
        round(macs.paper / 1e9, 2)   # 132.28, the paper's Table 7
        params.total                 # 55_286_316 (55.29 M)
    """
    config = model.config if isinstance(model, GFM) else model
    width = height if width is None else width
    if released is None:
        meta = getattr(model, "checkpoint_meta", None) if isinstance(model, GFM) else None
        released = (meta.source == "released") if meta is not None else (
            not isinstance(model, GFM) and config.backbone in RELEASED_UNUSED_PARAMETERS
        )
    twin = _meta_twin(config)
    stride = twin.output_stride
    if height <= 0 or width <= 0 or height % stride or width % stride:
        raise InputError(f"the profile size must be positive multiples of {stride}, got {height}x{width}")
    parameters = list(twin.parameters())
    flops = FlopCounterMode(display=False)
    counter = _ElementwiseCounter(parameters)
    with flops, counter, torch.no_grad():
        twin(torch.empty(1, 3, height, width, device="meta"))
    macs = MacCount(conv=int(flops.get_total_flops()) // 2, **counter.counts)
    total = sum(p.numel() for p in parameters)
    if released:
        total += RELEASED_UNUSED_PARAMETERS.get(config.backbone, 0)
    return ParameterCount(used=sum(p.numel() for p in counter.used.values()), total=total), macs
