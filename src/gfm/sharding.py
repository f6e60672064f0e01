"""Splitting a batch of inputs between torchrun's processes (``gfm matte``, ``gfm evaluate``).

    torchrun --nproc_per_node 8 -m gfm.cli.main matte photos/ -r --out mattes/
    torchrun --nproc_per_node 8 -m gfm.cli.main evaluate --data AM-2k --out eval/am2k

Every process builds the same sorted list of inputs and takes every
``world_size``-th item from its rank on (:meth:`Shard.take`), so each input is
worked on by exactly one process and a rerun with the same process count gives
each the same share. The processes talk only through small Python objects (the
reports merged at the end) over a Gloo group, on GPUs as on CPUs: no tensor is
exchanged, so NCCL is not needed. Each process runs on ``cuda:LOCAL_RANK`` when
CUDA is used (:func:`process_device`).

One process (no ``WORLD_SIZE`` above 1 in the environment) is a :class:`Shard`
of one: every method is then a no-op and nothing from ``torch.distributed`` is
touched.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from gfm.errors import ConfigError

T = TypeVar("T")

#: How long a process that finished its share waits for the others at the final
#: merge. Shares differ by at most one input, but photos differ in size; torchrun
#: stops every process when one of them dies, so a long wait never hangs a run.
MERGE_TIMEOUT = timedelta(hours=24)


@dataclass(frozen=True)
class Shard:
    """This process's place among torchrun's processes.

    Attributes:
        rank: 0 .. ``world_size - 1`` (``RANK``).
        world_size: how many processes share the inputs (``WORLD_SIZE``).
        local_rank: the process's index on its machine (``LOCAL_RANK``): its GPU.
        local_world_size: processes on this machine (``LOCAL_WORLD_SIZE``).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that merges and prints the summary."""
        return self.rank == 0

    def take(self, items: Sequence[T]) -> list[T]:
        """This process's share of ``items``: ``items[rank::world_size]``.

        The shares of all ranks are disjoint and together are ``items``; they differ
        in length by at most one.
        """
        return list(items[self.rank :: self.world_size])

    def all_gather(self, value: Any) -> list[Any]:
        """``value`` of every rank, in rank order (any picklable object); ``[value]`` for one process."""
        if not self.enabled:
            return [value]
        import torch.distributed as dist

        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, value)
        return gathered

    def on_main(self, work: Callable[[], T]) -> T:
        """Run ``work`` on rank 0 only and return its result on every rank.

        An exception of ``work`` is raised on every rank, so no process waits for
        a partner that has given up.
        """
        if not self.enabled:
            return work()
        outcome: tuple[bool, Any] | None = None
        if self.is_main:
            try:
                outcome = (True, work())
            except Exception as error:  # re-raised below, on every rank
                outcome = (False, error)
        ok, value = self.all_gather(outcome)[0]
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    def raise_first(self, error: BaseException | None) -> None:
        """Gather each rank's error (or ``None``); raise the first rank's on every rank."""
        errors = [e for e in self.all_gather(error) if e is not None]
        if errors:
            raise errors[0]

    def check_same(self, items: Sequence[Any], what: str) -> None:
        """Refuse to go on unless every rank built the same ``items`` (same order).

        Raises:
            ConfigError: on every rank, when the ranks see different inputs (a
                folder that is not on a filesystem shared by all machines).
        """
        if not self.enabled:
            return
        digest = hashlib.sha256("\n".join(map(str, items)).encode("utf-8", "surrogateescape")).hexdigest()
        digests = self.all_gather((digest, len(items)))
        if len({d for d, _ in digests}) > 1:
            counts = ", ".join(f"rank {rank}: {count}" for rank, (_, count) in enumerate(digests))
            raise ConfigError(
                f"the processes of this torchrun see different {what} ({counts}); every machine must see the same "
                "files at the same paths (a shared filesystem), and the inputs must not change while the run starts"
            )


def shard_from_environment() -> Shard:
    """The :class:`Shard` torchrun's environment describes, joining its process group (Gloo).

    Without ``WORLD_SIZE`` (or with 1) this is a shard of one and nothing is joined.

    Raises:
        ConfigError: ``WORLD_SIZE`` set without torchrun's other variables.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world_size <= 1:
        return Shard()
    try:
        rank = int(os.environ["RANK"])
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", str(world_size)))
    except (KeyError, ValueError):
        raise ConfigError("WORLD_SIZE is set but RANK is not (or not a number); start several processes with torchrun") from None
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo", timeout=MERGE_TIMEOUT)  # MASTER_ADDR / MASTER_PORT from torchrun
    return Shard(rank, world_size, local_rank, local_world_size)


def leave(shard: Shard) -> None:
    """Leave the process group joined by :func:`shard_from_environment` (a no-op for one process)."""
    if not shard.enabled:
        return
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def process_device(device: str | None, shard: Shard) -> str | None:
    """The device of this process: ``cuda:LOCAL_RANK`` for ``auto`` (with CUDA) or ``cuda``.

    One process, ``cpu`` and an explicit ``cuda:N`` are returned as given.
    """
    if not shard.enabled or device not in (None, "auto", "cuda"):
        return device
    import torch

    if device in (None, "auto") and not torch.cuda.is_available():
        return device
    if torch.cuda.is_available() and shard.local_rank >= torch.cuda.device_count():
        raise ConfigError(
            f"local rank {shard.local_rank} has no GPU of its own ({torch.cuda.device_count()} visible); "
            "start at most as many processes a machine as it has GPUs (--nproc_per_node), or use --device cpu"
        )
    return f"cuda:{shard.local_rank}"


def process_threads(threads: int | None, shard: Shard, cores: int | None = None) -> int | None:
    """CPU threads of each process: ``threads`` if given, else the free cores
    (:func:`gfm.cpu.inference_threads`) divided among the processes of this machine."""
    if threads is not None or not shard.enabled:
        return threads
    from gfm.cpu import inference_threads

    return max(1, inference_threads(cores) // max(1, shard.local_world_size))
