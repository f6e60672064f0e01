"""The pieces of one training step: the device and mixed precision it runs with,
its learning rate, batch norms kept frozen, the batch moved to the device, and
the forward pass with its loss (shared by the loop, the tests and the benchmarks)."""

from __future__ import annotations

import math

import torch
from torch import nn

from gfm.engine.config import TrainConfig
from gfm.errors import ConfigError
from gfm.losses import GFMLoss
from gfm.models.normalization import Normalization


def resolve_training_device(spec: str) -> torch.device:
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("optim.device is cuda but PyTorch sees no CUDA device; use cpu or auto")
    return device


def amp_settings(device: torch.device, mode: str) -> tuple[torch.dtype | None, bool]:
    """(autocast dtype or None, use a gradient scaler).

    On CPUs only an explicit ``bf16`` turns autocast on (fast where the CPU has
    native bf16, e.g. AVX512-BF16 or AMX); ``auto`` keeps CPU training in fp32.
    """
    if device.type == "cpu" and mode == "bf16":
        return torch.bfloat16, False
    if device.type != "cuda" or mode == "off":
        return None, False
    if mode in ("auto", "bf16") and torch.cuda.is_bf16_supported():
        return torch.bfloat16, False
    if mode == "bf16":
        raise ConfigError("optim.amp is bf16 but this GPU does not support bfloat16; use fp16 or off")
    return torch.float16, True


def channels_last_crashes(device: torch.device, amp_dtype: torch.dtype | None) -> bool:
    """Channels-last + bf16 autocast on CPU: a known oneDNN crash of torch 2.13's backward
    (a double free with several threads; an abort with one thread too, seen in the test suite)."""
    return device.type == "cpu" and amp_dtype == torch.bfloat16


def learning_rate(config: TrainConfig, step: int, total_steps: int) -> float:
    """The learning rate of optimiser step ``step`` (0-based) of ``total_steps``.

    Linear warm-up over ``optim.warmup_steps``, then ``optim.lr`` (constant) or a
    cosine decay to ``optim.lr_min`` at the last step (or at ``optim.schedule_steps``:
    a short run can follow the first steps of a longer run's schedule).
    """
    optim = config.optim
    total_steps = optim.schedule_steps or total_steps
    if step < optim.warmup_steps:
        return optim.lr * (step + 1) / optim.warmup_steps
    if optim.schedule == "constant":
        return optim.lr
    span = max(1, total_steps - optim.warmup_steps)
    progress = min(1.0, (step - optim.warmup_steps) / span)
    return optim.lr_min + 0.5 * (optim.lr - optim.lr_min) * (1.0 + math.cos(math.pi * progress))


def freeze_batch_norms(model: nn.Module) -> None:
    """Put every batch norm in eval mode (running statistics); affine parameters still train."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


def move_batch(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def training_loss(
    model: nn.Module,
    batch: dict[str, torch.Tensor],
    loss_fn: GFMLoss,
    normalization: Normalization,
    *,
    soft_fusion: bool = True,
    amp_dtype: torch.dtype | None = None,
) -> dict[str, torch.Tensor]:
    """One forward pass and its loss terms (used by the loop and by the tests).

    ``batch["image"]`` is RGB in [0, 1]; the network gets it in 0..255 through
    ``normalization``.
    """
    x = normalization.apply(batch["image"] * 255.0)
    device_type = x.device.type
    with torch.autocast(device_type, dtype=amp_dtype, enabled=amp_dtype is not None):
        out = model(x, soft_fusion=soft_fusion)
    return loss_fn(out, batch)
