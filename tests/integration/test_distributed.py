"""Data-parallel training under Gloo on two CPU processes."""

from __future__ import annotations

import socket
from pathlib import Path

import torch
import torch.multiprocessing as mp
from ddp_worker import gradients, make_model, run, two_samples

from gfm.engine.steps import training_loss
from gfm.losses import GFMLoss
from gfm.models.normalization import IMAGENET


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_averaged_gradient_equals_single_process_step(tmp_path: Path) -> None:
    out = tmp_path / "ddp_grads.pt"
    mp.spawn(run, args=(_free_port(), str(out)), nprocs=2, join=True)
    ddp_grads = torch.load(out, weights_only=True)

    model = make_model()
    training_loss(model, two_samples(), GFMLoss("TT"), IMAGENET)["total"].backward()
    single = gradients(model)
    assert ddp_grads.keys() == single.keys() and len(single) > 50
    for key, value in single.items():
        torch.testing.assert_close(ddp_grads[key], value, atol=2e-6, rtol=1e-4, msg=key)
