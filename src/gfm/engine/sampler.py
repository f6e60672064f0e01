"""A resumable, rank-aware sampler: the data order is a function of (seed, epoch).

Every rank draws the same permutation of the dataset for an epoch and takes
every ``world_size``-th index from its rank on (like ``DistributedSampler``,
padding with the first indices so ranks get equal shares). Because the order
depends only on the seed and the epoch, a run resumed at (epoch, batch) sees
exactly the samples the uninterrupted run would have seen.

With ``tag_epoch=True`` it yields ``(epoch, index)`` pairs, which the training
datasets (:class:`gfm.data.dataset.MattingDataset` ...) accept: the epoch then
travels with every index, so data-loader workers can live for the whole run
(``persistent_workers=True``) instead of starting again every epoch to learn it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from torch.utils.data import Sampler


class EpochSampler(Sampler[Any]):
    def __init__(
        self, size: int, seed: int, rank: int = 0, world_size: int = 1, shuffle: bool = True, tag_epoch: bool = False
    ) -> None:
        if size <= 0:
            raise ValueError("the dataset is empty")
        self.size, self.seed, self.rank, self.world_size, self.shuffle = size, seed, rank, world_size, shuffle
        self.tag_epoch = tag_epoch
        self.epoch = 0
        self.skip = 0  # samples of this rank to skip at the start of the epoch (resume)

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch, self.skip = epoch, skip

    @property
    def per_rank(self) -> int:
        return -(-self.size // self.world_size)

    def order(self) -> np.ndarray:
        """This rank's indices for the current epoch, before skipping."""
        indices = np.random.default_rng([self.seed, self.epoch]).permutation(self.size) if self.shuffle else np.arange(self.size)
        total = self.per_rank * self.world_size
        if total > self.size:
            indices = np.concatenate([indices, indices[: total - self.size]])
        return indices[self.rank : total : self.world_size]

    def __iter__(self) -> Iterator[Any]:
        indices = self.order()[self.skip :].tolist()
        return iter([(self.epoch, i) for i in indices] if self.tag_epoch else indices)

    def __len__(self) -> int:
        return self.per_rank - self.skip
