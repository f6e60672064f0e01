"""``gfm matte`` and ``gfm evaluate`` under torchrun: one share of the inputs a process.

The commands run unchanged in one process. Under ``torchrun --nproc_per_node N
-m gfm.cli.main matte|evaluate ...`` :func:`under_torchrun` joins the processes
(:mod:`gfm.sharding`), gives each its own GPU (or a fair part of the CPU
cores), and keeps the other ranks quiet: rank 0 prints the one merged summary.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from gfm.sharding import Shard, leave, process_device, process_threads, shard_from_environment
from gfm.errors import ConfigError

if TYPE_CHECKING:
    from gfm.inference.batch import CollectedInputs
    from gfm.inference.batch_writer import BatchReport


def under_torchrun(run: Callable[[argparse.Namespace], int], quiet: str) -> Callable[[argparse.Namespace], int]:
    """Wrap a command's ``run(args)`` so that it finds its :class:`Shard` in ``args.shard``.

    Args:
        quiet: the ``args`` attribute that silences progress bars and notes
            (set on every rank but 0, whose standard output is dropped too).
    """

    @functools.wraps(run)
    def wrapper(args: argparse.Namespace) -> int:
        if int(os.environ.get("WORLD_SIZE", "1") or 1) <= 1:
            args.shard = Shard()
            return run(args)
        shard = shard_from_environment()
        args.shard = shard
        try:
            if getattr(args, "pred", None) is None:  # a model runs: its device and threads
                args.device = process_device(args.device, shard)
                args.threads = process_threads(args.threads, shard)
            if shard.is_main:
                return run(args)
            setattr(args, quiet, True)
            with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
                return run(args)
        finally:
            leave(shard)

    return wrapper


def take_share(shard: Shard, found: CollectedInputs) -> CollectedInputs:
    """This process's share of ``gfm matte``'s jobs; the problems and skipped inputs
    (reported once, in the summary) stay with rank 0.

    Raises:
        ConfigError: standard input or ``-o FILE`` (one image, nothing to share),
            or ranks that see different inputs.
    """
    if not shard.enabled:
        return found
    if any(job.from_stdin or job.target is not None for job in found.jobs):
        raise ConfigError("under torchrun, gfm matte needs files or folders as inputs and an output folder "
                          "(-o DIR); standard input and -o FILE are one image: run them without torchrun")
    shard.check_same([job.source for job in found.jobs], "input images")
    if shard.is_main:
        return replace(found, jobs=shard.take(found.jobs))
    return replace(found, jobs=shard.take(found.jobs), problems=[], skipped=[], earlier_outputs=0)


def merge_reports(shard: Shard, report: BatchReport, counts: dict[str, int], seconds: float) -> tuple[BatchReport, dict[str, int], float]:
    """Every rank's report and counters summed (failures in rank order), and the
    longest rank's seconds: what rank 0 prints. One process: returned as given."""
    if not shard.enabled:
        return report, counts, seconds
    from gfm.inference.batch_writer import BatchReport

    merged = BatchReport()
    total = dict.fromkeys(counts, 0)
    longest = 0.0
    for part, part_counts, part_seconds in shard.all_gather((report, counts, seconds)):
        merged.done += part.done
        merged.skipped += part.skipped
        merged.failures += part.failures
        merged.notes += part.notes
        for key, value in part_counts.items():
            total[key] = total.get(key, 0) + value
        longest = max(longest, part_seconds)
    return merged, total, longest
