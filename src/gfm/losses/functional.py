"""GFM's loss terms as pure functions on tensors (SPEC section 3, Eqs. 2-8).

Shapes: alphas and weights ``(B, 1, H, W)`` in [0, 1]; colours ``(B, 3, H, W)``
in [0, 1]; glance logits ``(B, C, H, W)``; class targets ``(B, H, W)`` int64.
No device is hard-coded: every new tensor follows its input.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

EPS = 1e-6


def glance_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the glance head on its raw scores (not on sigmoids, as the released code does)."""
    return F.cross_entropy(logits.float(), target.long())


def alpha_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None, eps: float = EPS) -> torch.Tensor:
    """``sum_i sqrt(((a_i - t_i) w_i)^2 + eps^2) / sum_i w_i`` (Charbonnier) per
    image, averaged over the batch.

    Normalising each image by its own supervised area makes the loss
    independent of how a batch is split (data-parallel ranks average to the
    single-process value). ``weight=None`` supervises every pixel. An empty
    weight map gives a loss of about ``eps`` (never a division by zero).
    """
    diff = (pred - target).float()
    if weight is None:
        return torch.sqrt(diff.square() + eps**2).mean()
    weight = weight.float()
    per_image = torch.sqrt((diff * weight).square() + eps**2).flatten(1).sum(1) / weight.flatten(1).sum(1).clamp(min=1.0)
    return per_image.mean()


@functools.lru_cache(maxsize=8)
def _gaussian_kernel_cpu(size: int, sigma: float) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    kernel = torch.outer(g, g)
    return (kernel / kernel.sum()).float()


def gaussian_kernel(size: int = 5, sigma: float = 1.0, device: torch.device | None = None) -> torch.Tensor:
    """Normalised 2-D Gaussian ``(1, 1, size, size)`` (the released code squares the
    exponential, making sigma about 0.71; this is the stated sigma)."""
    return _gaussian_kernel_cpu(size, sigma).to(device).view(1, 1, size, size)


def laplacian_pyramid(x: torch.Tensor, levels: int = 5, kernel: torch.Tensor | None = None) -> list[torch.Tensor]:
    """Band-pass levels ``x - G * x`` at ``levels`` scales (2x average-pool between), then the residual."""
    kernel = gaussian_kernel(device=x.device) if kernel is None else kernel
    channels = x.shape[1]
    weight = kernel.to(x.dtype).expand(channels, 1, *kernel.shape[-2:])
    pad = kernel.shape[-1] // 2
    pyramid = []
    current = x
    for _ in range(levels):
        filtered = F.conv2d(F.pad(current, (pad, pad, pad, pad), mode="replicate"), weight, groups=channels)
        pyramid.append(current - filtered)
        current = F.avg_pool2d(filtered, 2)
    pyramid.append(current)
    return pyramid


def laplacian_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None, levels: int = 5) -> torch.Tensor:
    """Sum over pyramid levels of the mean L1 difference (Gaussian 5x5, sigma 1).

    With ``weight``, both alphas are masked by it first (the supervised area).
    """
    pred, target = pred.float(), target.float()
    if weight is not None:
        pred, target = pred * weight, target * weight
    return sum(F.l1_loss(a, b) for a, b in zip(laplacian_pyramid(pred, levels), laplacian_pyramid(target, levels)))  # type: ignore[return-value]


def composite(alpha: torch.Tensor, fg: torch.Tensor, bg: torch.Tensor) -> torch.Tensor:
    """``alpha F + (1 - alpha) B``: ``(B, 1, H, W)``, ``(B, 3, H, W)`` x2 -> ``(B, 3, H, W)``."""
    return alpha * fg + (1.0 - alpha) * bg


def composition_loss(pred: torch.Tensor, target: torch.Tensor, fg: torch.Tensor, bg: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """``sum sqrt((C(pred) - C(target))^2 + eps^2) / N`` over the image, C with the
    true foreground and background colours, N the number of pixels (B x H x W)."""
    diff = (composite(pred.float(), fg.float(), bg.float()) - composite(target.float(), fg.float(), bg.float()))
    pixels = pred.shape[0] * pred.shape[-2] * pred.shape[-1]
    return torch.sqrt(diff.square() + eps**2).sum() / pixels


__all__ = [
    "EPS",
    "alpha_loss",
    "composite",
    "composition_loss",
    "gaussian_kernel",
    "glance_cross_entropy",
    "laplacian_loss",
    "laplacian_pyramid",
]
