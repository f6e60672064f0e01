"""Deterministic weights for the released GFM key layout (fixtures README).

Every tensor depends only on its canonical key and shape: SplitMix64 seeded
with crc32(key), scaled by the key's kind. Used to prove that our network
computes what the released code computes on the same weights.
"""

from __future__ import annotations

import gzip
import json
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)


def read_manifest(path: Path) -> dict:
    with gzip.open(path, "rt") as f:
        return json.load(f)


def splitmix_uniform(seed: int, count: int) -> np.ndarray:
    """``count`` float64 values in [-1, 1) from SplitMix64 steps i = 1..count."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + np.arange(1, count + 1, dtype=np.uint64) * GOLDEN
        z = (z ^ (z >> np.uint64(30))) * MIX1
        z = (z ^ (z >> np.uint64(27))) * MIX2
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / 2.0**53 * 2.0 - 1.0


@lru_cache(maxsize=4096)
def deterministic_tensor(key: str, shape: tuple[int, ...], dtype: str) -> torch.Tensor:
    numel = int(np.prod(shape)) if shape else 1
    u = splitmix_uniform(zlib.crc32(key.encode("utf-8")) & 0xFFFFFFFF, numel)
    if key.endswith("num_batches_tracked"):
        values = np.zeros(numel)
    elif key.endswith("running_var"):
        values = 1.0 + 0.5 * np.abs(u)
    elif key.endswith("running_mean"):
        values = 0.1 * u
    elif len(shape) >= 2:
        values = u * np.sqrt(3.0 / int(np.prod(shape[1:])))
    elif key.endswith("weight"):
        values = 1.0 + 0.2 * u
    else:
        values = 0.1 * u
    return torch.from_numpy(values.reshape(shape).astype(np.dtype(dtype)))


def deterministic_state_dict(manifest: dict) -> dict[str, torch.Tensor]:
    """The released-layout state dict, aliases sharing their canonical tensor."""
    state: dict[str, torch.Tensor] = {}
    for row in manifest["keys"]:
        canonical = row.get("alias_of") or row["key"]
        state[row["key"]] = deterministic_tensor(canonical, tuple(row["shape"]), row["dtype"])
    return state


def meta_state_dict(manifest: dict) -> dict[str, torch.Tensor]:
    """Same keys and shapes on the meta device (no memory), for structure checks."""
    dtypes = {"float32": torch.float32, "int64": torch.int64}
    return {row["key"]: torch.empty(row["shape"], dtype=dtypes[row["dtype"]], device="meta") for row in manifest["keys"]}
