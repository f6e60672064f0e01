"""How many CPU threads each part of gfm uses, so that they fit the machine.

PyTorch starts one intra-op thread per core in every process by default. A
training run adds data-loader worker processes that decode, crop and resize
images at the same time, so on a small machine the threads outnumber the
cores; PyTorch's OpenMP threads then wait for each other at every parallel
region and steps stall for seconds (``benchmarks/threads.py`` measures it).
The functions here give each process its share of the cores instead.
"""

from __future__ import annotations

import os


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def free_cores(cores: int | None = None) -> int:
    """The cores not kept busy by other processes: ``cores`` minus the 1-minute load
    average (rounded down), at least 1. The load is read once, when asked."""
    cores = cores or available_cores()
    try:
        busy = int(os.getloadavg()[0])
    except (AttributeError, OSError):  # no load average on this system
        busy = 0
    return max(1, min(cores, cores - busy))


def training_threads(workers: int, processes_per_machine: int = 1, cores: int | None = None) -> int:
    """PyTorch threads for each training process on CPU.

    The cores that other processes leave free (:func:`free_cores`) are shared
    by the ``processes_per_machine`` training processes (torchrun's
    ``LOCAL_WORLD_SIZE``); in each process's share, ``workers`` cores are left
    to its data-loader workers. So threads x processes + workers stays within
    the free cores: on 2 cores, with another training running, 2 threads
    instead of 1 made the tiny network's steps 5.6 to 6.3 times slower, with
    pauses of up to 16 s (``benchmarks/threads.py``, median of two rounds).

    Args:
        workers: data-loader worker processes of each training process.
        processes_per_machine: training processes on this machine.
        cores: the machine's cores (default: :func:`available_cores`).

    Returns:
        At least 1.
    """
    share = max(1, free_cores(cores) // max(1, processes_per_machine))
    return max(1, share - workers)


#: Epochs shorter than this many batches load in the training process itself.
SMALL_EPOCH_BATCHES = 8
#: Loader workers a training process starts for longer epochs.
DEFAULT_LOADER_WORKERS = 2


def loader_workers(batches_per_epoch: int) -> int:
    """Data-loader worker processes when none are configured.

    Workers start anew every epoch (the dataset draws each epoch's crops and
    backgrounds from its epoch number, which workers copy when they start), so
    on a tiny set (the README's three example photos: 2 batches an epoch) the
    start-up of the workers costs more than they save: with 1 thread, 0 workers
    took 0.97 s a step against 1.23 s with 2 workers (``benchmarks/threads.py``,
    median of two rounds on a busy 2-core machine). Longer epochs get
    :data:`DEFAULT_LOADER_WORKERS`.
    """
    return 0 if batches_per_epoch < SMALL_EPOCH_BATCHES else DEFAULT_LOADER_WORKERS


def inference_threads(cores: int | None = None) -> int:
    """PyTorch threads for ``gfm matte`` / ``gfm evaluate`` when ``--threads`` is not
    given: the free cores (:func:`free_cores`), so that a busy machine is not
    oversubscribed. Inference suffers far less than training from a thread too
    many (large convolutions, few parallel regions a second): on a busy 2-core
    machine, matting the three example photos with r34-TT took 49.2 s with 2
    threads, 47.7 s with 1 and 45.8 s with this choice (``benchmarks/threads.py
    --matte``, whole command, median of two rounds)."""
    return free_cores(cores)
