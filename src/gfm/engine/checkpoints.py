"""Training checkpoints: everything needed to continue a run exactly.

A checkpoint holds the (unwrapped) model, optimiser, gradient scaler, the
position in the data (epoch, batches done in it, optimiser steps), every RNG
state and the resolved config. Files are written atomically after a free-space
check, so a failure (even a full disk) leaves the previous checkpoint intact;
only the last ``keep_last`` are kept. Everything is stored as tensors and
plain containers, so checkpoints load with ``weights_only=True``.
"""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gfm.errors import CheckpointError, GFMError
from gfm.io.atomic import atomic_write, remove_stale_temporaries

FORMAT = "gfm-train"
_NAME = re.compile(r"^step_(\d{8})\.pt$")


class OutOfSpaceError(GFMError):
    """Not enough free disk space to write a checkpoint."""


def rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]), "has_gauss": int(np_state[3]), "cached": float(np_state[4])},
        "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_dir(run_dir: Path) -> Path:
    return run_dir / "checkpoints"


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Checkpoints of a run, oldest first."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _NAME.match(p.name))


def _estimated_bytes(payload: dict[str, Any]) -> int:
    total = 0
    stack: list[Any] = [payload]
    while stack:
        item = stack.pop()
        if isinstance(item, torch.Tensor):
            total += item.numel() * item.element_size()
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return total


def save_training_checkpoint(run_dir: Path, step: int, payload: dict[str, Any], keep_last: int) -> Path:
    """Write ``checkpoints/step_XXXXXXXX.pt`` atomically and prune old ones.

    Raises:
        OutOfSpaceError: before writing, if the disk cannot hold the file.
        CheckpointError: the write failed; the previous checkpoint is intact.
    """
    folder = checkpoint_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(folder)  # a killed run's half-written checkpoint: hundreds of MB
    target = folder / f"step_{step:08d}.pt"
    needed = int(_estimated_bytes(payload) * 1.1) + (1 << 20)
    free = shutil.disk_usage(folder).free
    previous = list_checkpoints(run_dir)
    if free < needed:
        raise OutOfSpaceError(
            f"{folder}: {free / 1e6:.0f} MB free, a checkpoint needs about {needed / 1e6:.0f} MB; free some space, "
            f"then {_how_to_continue(previous)}"
        )
    try:
        with atomic_write(target) as tmp:
            torch.save(dict(payload, format=FORMAT), tmp)
    except OSError as error:
        raise CheckpointError(
            f"{target}: could not write the checkpoint ({error.strerror or error}); {_how_to_continue(previous)}"
        ) from None
    for old in list_checkpoints(run_dir)[:-keep_last]:
        old.unlink(missing_ok=True)
    return target


def _how_to_continue(previous: list[Path]) -> str:
    """What a user whose checkpoint could not be written should do next."""
    if not previous:
        return "nothing of this run was saved yet: start it again (without --resume)"
    return f"the last checkpoint {previous[-1].name} is intact: continue from it with --resume"


def load_training_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint of :func:`save_training_checkpoint` (``weights_only=True``, on the CPU).

    Raises:
        CheckpointError: unreadable (truncated, corrupt), holding Python
            objects besides tensors (refused: unpickling them could run
            code), or not a gfm training checkpoint.
    """
    import pickle

    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "global" in str(error).lower():  # a class or function reference: code, not data
            raise CheckpointError(
                f"{path}: holds pickled Python objects besides tensors, which gfm refuses to load (unpickling them "
                "could run code); gfm never writes such checkpoints: this file did not come from gfm train"
            ) from None
        raise CheckpointError(f"{path}: cannot read the training checkpoint (unreadable pickle data); it is corrupt") from None
    except Exception as error:  # noqa: BLE001 - any unreadable file
        raise CheckpointError(
            f"{path}: cannot read the training checkpoint ({str(error).splitlines()[0][:120]}); it is truncated or corrupt"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a gfm training checkpoint")
    return payload
