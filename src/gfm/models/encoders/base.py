"""The encoder contract.

An encoder turns a ``(B, 3, H, W)`` image into a list of feature maps, one a
stage, from fine to coarse. It declares each stage's channels and stride, and
the decoders are assembled from those declarations alone.
"""

from __future__ import annotations

import torch
from torch import nn

from gfm.errors import CheckpointError


class Encoder(nn.Module):
    """Base class of GFM encoders.

    Attributes:
        out_channels: channels of each stage's feature, fine to coarse.
        strides: down-sampling factor of each stage relative to the input.
    """

    out_channels: tuple[int, ...]
    strides: tuple[int, ...]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def output_stride(self) -> int:
        """Stride of the deepest feature: input sizes must be multiples of it."""
        return self.strides[-1]

    def load_backbone_state_dict(self, state_dict: dict[str, torch.Tensor]) -> list[str]:
        """Load ImageNet weights (torchvision key names) into the backbone.

        Returns:
            The backbone keys of the file that the encoder does not use
            (classifier, unused stem), for the caller to report.
        """
        raise NotImplementedError


def load_backbone_tensors(
    encoder: nn.Module, state_dict: dict[str, torch.Tensor], not_in_imagenet: tuple[str, ...]
) -> list[str]:
    """Copy ImageNet tensors into ``encoder`` by (torchvision) name.

    Every encoder tensor must come from ``state_dict`` except those under
    ``not_in_imagenet`` prefixes (layers the paper adds to the backbone).

    Returns:
        Keys of ``state_dict`` the encoder does not use (e.g. ``fc.*``).

    Raises:
        CheckpointError: a needed tensor is missing or has another shape.
    """
    own = encoder.state_dict()
    # Old torchvision files have no num_batches_tracked counters; they only matter for momentum=None.
    needed = [k for k in own if not k.startswith(not_in_imagenet) and (k in state_dict or not k.endswith("num_batches_tracked"))]
    missing = [k for k in needed if k not in state_dict]
    if missing:
        raise CheckpointError(
            f"the backbone checkpoint lacks {len(missing)} tensors the encoder needs "
            f"(first: {', '.join(missing[:3])}); pass a torchvision ImageNet checkpoint "
            "of the matching architecture"
        )
    for key in needed:
        if tuple(state_dict[key].shape) != tuple(own[key].shape):
            raise CheckpointError(
                f"backbone tensor {key} has shape {tuple(state_dict[key].shape)}, the encoder "
                f"expects {tuple(own[key].shape)}; this checkpoint is of another architecture"
            )
    encoder.load_state_dict({k: state_dict[k] for k in needed}, strict=False)
    return sorted(k for k in state_dict if k not in own)
