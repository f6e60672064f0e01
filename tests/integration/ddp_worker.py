"""Worker of the two-process Gloo test (imported by spawned children)."""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.distributed as dist

import gfm
from gfm.engine.steps import freeze_batch_norms, training_loss
from gfm.losses import GFMLoss
from gfm.models.normalization import IMAGENET


def two_samples() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(7)
    alpha = torch.rand(2, 1, 64, 64, generator=g)
    return {
        "image": torch.rand(2, 3, 64, 64, generator=g),
        "alpha": alpha,
        "fg": torch.rand(2, 3, 64, 64, generator=g),
        "bg": torch.rand(2, 3, 64, 64, generator=g),
        "glance": torch.randint(0, 3, (2, 64, 64), generator=g),
        "focus": alpha.clone(),
        "focus_mask": (torch.rand(2, 1, 64, 64, generator=g) > 0.3).float(),
    }


def make_model() -> gfm.GFM:
    torch.manual_seed(0)
    model = gfm.create_model("tiny", "TT")
    model.train()
    freeze_batch_norms(model)  # per-process batch statistics would differ from a batch of two
    return model


def gradients(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: p.grad.detach().clone() for k, p in model.named_parameters() if p.grad is not None}


def run(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        model = make_model()
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        batch = {k: v[rank : rank + 1] for k, v in two_samples().items()}  # one sample per rank
        training_loss(ddp, batch, GFMLoss("TT"), IMAGENET)["total"].backward()
        if rank == 0:
            torch.save(gradients(model), Path(out))
        # Both ranks leave together: a rank that destroys its Gloo group while the
        # other still works aborted about once in 20 runs ("terminate called
        # without an active exception", SIGABRT); 0 in 100 with this barrier.
        dist.barrier()
    finally:
        dist.destroy_process_group()
