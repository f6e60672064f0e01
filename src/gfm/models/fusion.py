"""Collaborative matting (CM) and the RoSTa integration module (RIM).

CM merges the glance decoder's class map with the focus decoder's alpha
according to the RoSTa (SPEC section 2):

==== ===================================== ===============================
TT   classes 0 bg / 1 transition / 2 fg   focus where class 1, 1 where 2
FT   classes 0 / 1 (solid foreground)      clamp(class + focus, max=1)
BT   classes 0 / 1 (inside background-    clamp(class - focus, min=0)
     dilated mask)
==== ===================================== ===============================

The class is the argmax of the glance scores (equal to the argmax of the
released sigmoid outputs).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

RoSTa = Literal["TT", "FT", "BT"]
ROSTA_CLASSES: dict[str, int] = {"TT": 3, "FT": 2, "BT": 2}


def collaborative_matting(glance_logits: torch.Tensor, focus: torch.Tensor, rosta: str) -> torch.Tensor:
    """Fuse glance and focus outputs into an alpha matte.

    Args:
        glance_logits: ``(B, 3 or 2, H, W)`` glance scores (any monotonic scale).
        focus: ``(B, 1, H, W)`` focus output in [0, 1].
        rosta: ``"TT"``, ``"FT"`` or ``"BT"``.

    Returns:
        ``(B, 1, H, W)`` alpha in [0, 1], dtype of ``focus``.
    """
    classes = glance_logits.argmax(1, keepdim=True)
    if rosta == "TT":
        return torch.where(classes == 1, focus, (classes == 2).to(focus.dtype))
    if rosta == "FT":
        return (classes.to(focus.dtype) + focus).clamp(max=1.0)
    if rosta == "BT":
        return (classes.to(focus.dtype) - focus).clamp(min=0.0)
    raise ValueError(f"unknown RoSTa {rosta!r}; expected TT, FT or BT")


def soft_collaborative_matting(glance_logits: torch.Tensor, focus: torch.Tensor, rosta: str) -> torch.Tensor:
    """Differentiable collaborative matting for training.

    The argmax of :func:`collaborative_matting` passes no gradient to the
    glance decoder; here the classes are weighted by their softmax
    probabilities (the expected fused alpha), so matting errors in the fused
    output reach both decoders. Equal to the hard rule when the glance is certain.

    Args and returns as :func:`collaborative_matting`.
    """
    probs = torch.softmax(glance_logits, dim=1).to(focus.dtype)
    if rosta == "TT":
        return probs[:, 2:3] + probs[:, 1:2] * focus
    if rosta == "FT":
        return (probs[:, 1:2] + focus).clamp(max=1.0)
    if rosta == "BT":
        return (probs[:, 1:2] - focus).clamp(min=0.0)
    raise ValueError(f"unknown RoSTa {rosta!r}; expected TT, FT or BT")


class SqueezeExcitation(nn.Module):
    """Channel attention: global average pool, two linear layers, sigmoid gate."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        self.fc = nn.Sequential(
            nn.Linear(channels, channels // reduction, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(channels // reduction, channels, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.fc(x.mean(dim=(2, 3)))
        return x * gate[:, :, None, None]


class RoStaIntegration(nn.Sequential):
    """RIM: the three CM alphas (TT, FT, BT) -> one alpha.

    1x1 conv 3->16, squeeze-and-excitation (reduction 4), 1x1 conv 16->1.
    ``(B, 3, H, W) -> (B, 1, H, W)``, raw (unbounded) values: clamp to [0, 1]
    before using the result as an alpha.
    """

    def __init__(self, hidden: int = 16) -> None:
        super().__init__(nn.Conv2d(3, hidden, 1), SqueezeExcitation(hidden), nn.Conv2d(hidden, 1, 1))
