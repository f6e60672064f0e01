"""Which arithmetic the network runs in: ``--precision fp32 | bf16 | auto``.

bf16 autocast roughly halves the network's time on CPUs with native bf16
instructions (AVX512-BF16 or AMX) and changes the alpha a little. ``auto``
takes that trade only where it was measured to be invisible:

* on a CPU with native bf16, for weights whose bf16 change was measured on
  held-out photos with reference mattes and stayed under :data:`VISIBLE_CHANGE`
  (``benchmarks/precision.py``; the registry records the verdict per weights,
  :attr:`gfm.hub.registry.WeightsEntry.auto_bf16`);
* never on CUDA: the networks take milliseconds there (GFM-Lite 7 ms at
  800x800 on an H200), so bf16 would cost quality for no time a user notices;
* never on CPUs without native bf16, where it is emulated and slower.

Every other case runs fp32, the released network's numbers.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from gfm.errors import InputError

PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class VisibleChange:
    """Limits under which bf16's change of the alpha counts as invisible.

    bf16 may move a few pixels across a glance class boundary (a jump of many
    levels in about 0.1 % of the pixels, both ways), so a per-pixel bound alone
    would refuse it however good the mattes stay; what a user sees is whether
    the mattes get worse, on average and against the reference.

    Attributes:
        mean_levels: largest mean absolute difference from the fp32 alpha, in 8-bit levels.
        worse_sad: largest relative increase of the SAD against the reference mattes.
        worse_mse: largest relative increase of the MSE against the reference mattes.
    """

    mean_levels: float = 2.0
    worse_sad: float = 0.01
    worse_mse: float = 0.01


VISIBLE_CHANGE = VisibleChange()


@dataclass(frozen=True)
class InferenceDefaults:
    """What a model runs with when the user names no strategy or precision.

    Attributes:
        strategy: the measured best test-time strategy of these weights.
        auto_bf16: ``--precision auto`` may use bf16 (measured under :data:`VISIBLE_CHANGE`).
        guided_strategy: the measured best strategy with a guide (None: ``strategy``).
    """

    strategy: str = "hybrid"
    auto_bf16: bool = False
    guided_strategy: str | None = None


#: For weights with no measurements (checkpoint files, run folders): the paper's hybrid strategy, fp32.
UNMEASURED = InferenceDefaults()


def inference_defaults(model: object) -> InferenceDefaults:
    """The defaults :func:`gfm.inference.models.load_model_spec` attached to ``model``, or :data:`UNMEASURED`."""
    defaults = getattr(model, "inference_defaults", None)
    return defaults if isinstance(defaults, InferenceDefaults) else UNMEASURED


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """True on CPUs that compute bf16 natively (AVX512-BF16 or AMX-BF16; read on Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str, device: torch.device, models: Sequence[object]) -> str:
    """``"fp32"`` or ``"bf16"``: what ``precision`` means for these models on ``device``.

    Raises:
        InputError: ``precision`` is not one of :data:`PRECISIONS`.
    """
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision
    if device.type == "cpu" and cpu_has_native_bf16() and all(inference_defaults(m).auto_bf16 for m in models):
        return "bf16"
    return "fp32"


__all__ = ["InferenceDefaults", "PRECISIONS", "UNMEASURED", "VISIBLE_CHANGE", "VisibleChange", "cpu_has_native_bf16",
           "inference_defaults", "resolve_precision"]
