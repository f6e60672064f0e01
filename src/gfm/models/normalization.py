"""Input normalisation, a property of the weights (not of the network).

The released GFM checkpoints take RGB in 0..255 as is; networks trained with
ImageNet statistics take ``(x - mean) / std``. Both are written as a mean and
standard deviation applied to 0..255 RGB values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from gfm.errors import ConfigError

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Normalization:
    """``x_net = (x_rgb_0_255 - mean) / std``, per channel (R, G, B)."""

    name: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def __post_init__(self) -> None:
        if len(self.mean) != 3 or len(self.std) != 3:
            raise ConfigError(f"normalization {self.name!r}: mean and std need 3 RGB values each")
        if any(s <= 0 for s in self.std):
            raise ConfigError(f"normalization {self.name!r}: std must be positive, got {self.std!r}")

    def apply(self, rgb255: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` RGB in 0..255 -> network input (new tensor unless identity)."""
        import torch

        if self.mean == (0.0, 0.0, 0.0) and self.std == (1.0, 1.0, 1.0):
            return rgb255
        mean = torch.tensor(self.mean, dtype=rgb255.dtype, device=rgb255.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, dtype=rgb255.dtype, device=rgb255.device).view(1, 3, 1, 1)
        return (rgb255 - mean) / std

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Normalization:
        return cls(str(data["name"]), tuple(float(v) for v in data["mean"]), tuple(float(v) for v in data["std"]))  # type: ignore[arg-type]


RAW_255 = Normalization("raw255", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
IMAGENET = Normalization("imagenet", (123.675, 116.28, 103.53), (58.395, 57.12, 57.375))
NORMALIZATIONS = {n.name: n for n in (RAW_255, IMAGENET)}
