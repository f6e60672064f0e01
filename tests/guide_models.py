"""Small ONNX segmentation models made in the tests: stand-ins for ISNet as a guide.

Each is a tiny PyTorch module exported with the TorchScript exporter (no
download, a few kilobytes): "salient = bright" for real guiding, and broken
ones for the error paths.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch


class Bright(torch.nn.Module):
    """Subject = bright pixels: a sharp sigmoid of the mean channel (input normalised as ISNet's)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x.mean(1, keepdim=True) * 40.0)


class NotANumber(torch.nn.Module):
    """A broken model: NaN everywhere."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(-1.0 - x.abs().mean(1, keepdim=True))


class Constant(torch.nn.Module):
    """A model that says the same everywhere."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(1, keepdim=True) * 0.0 + 0.25


class ThreeChannels(torch.nn.Module):
    """Not a segmentation model: an image out."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x)


def export(module: torch.nn.Module, path: Path, size: int = 64) -> Path:
    """``module`` as ``path`` (an ``(1, 3, size, size)`` input named ``input``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notes
        torch.onnx.export(module.eval(), torch.zeros(1, 3, size, size), str(path), dynamo=False,
                          input_names=["input"], output_names=["output"])
    return path
