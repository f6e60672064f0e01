"""Thread counts that fit the machine (gfm.cpu)."""

from __future__ import annotations

import os

import pytest

from gfm import cpu


@pytest.mark.parametrize(
    ("cores", "load", "workers", "processes", "threads"),
    [
        (2, 0.0, 0, 1, 2),  # idle 2-core machine, loading in the training process
        (2, 0.0, 2, 1, 1),  # two loader workers take their cores
        (2, 8.4, 0, 1, 1),  # another training keeps the cores busy
        (16, 0.3, 2, 1, 14),
        (16, 4.9, 2, 1, 10),
        (16, 0.0, 2, 4, 2),  # torchrun --nproc_per_node 4
        (4, 0.0, 8, 1, 1),  # never below 1
    ],
)
def test_training_threads_fit_the_free_cores(monkeypatch: pytest.MonkeyPatch, cores: int, load: float, workers: int,
                                             processes: int, threads: int) -> None:
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert cpu.training_threads(workers, processes, cores=cores) == threads


def test_loader_workers_and_free_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    assert cpu.loader_workers(2) == 0  # the example photos: 2 batches an epoch
    assert cpu.loader_workers(900) == cpu.DEFAULT_LOADER_WORKERS
    monkeypatch.setattr(os, "getloadavg", lambda: (_ for _ in ()).throw(OSError("no load average")))
    assert cpu.free_cores(3) == 3
    assert cpu.available_cores() >= 1


def test_matte_and_evaluate_use_the_free_cores(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    import torch

    import gfm
    from gfm.cli._model_options import load_models

    path = gfm.save_checkpoint(gfm.create_model("tiny", "TT"), tmp_path / "tiny.pth")
    args = argparse.Namespace(threads=None, model=[str(path)], strategy=None, rosta=None)
    before = torch.get_num_threads()
    try:
        monkeypatch.setattr(cpu, "free_cores", lambda cores=None: 1)  # a busy machine
        load_models(args)
        assert torch.get_num_threads() == 1
        args.threads = 2
        load_models(args)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
