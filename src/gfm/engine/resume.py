"""Resuming a run from its folder: the newest readable checkpoint, a check that the
config asks for the model the run was trained as, and what an interrupted run
says about continuing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gfm.engine.checkpoints import list_checkpoints, load_training_checkpoint
from gfm.engine.config import TrainConfig
from gfm.errors import CheckpointError


def check_resume_config(saved: TrainConfig, config: TrainConfig, path: Path) -> None:
    if saved.model != config.model:
        saved_name = f"{saved.model.backbone}-{saved.model.rosta}"
        raise CheckpointError(
            f"{path}: the run was trained as {saved_name} ({saved.model}); the config asks for "
            f"{config.model.backbone}-{config.model.rosta} ({config.model}); resume with the run's own model settings "
            "or start a new run in another --out folder"
        )


def load_newest_checkpoint(checkpoints: list[Path]) -> dict[str, Any]:
    """The newest checkpoint; if it is unreadable, say which older one is there to resume from."""
    try:
        return load_training_checkpoint(checkpoints[-1])
    except CheckpointError as error:
        if len(checkpoints) < 2:
            raise
        raise CheckpointError(
            f"{error}. The previous checkpoint {checkpoints[-2].name} is there: move {checkpoints[-1]} out of "
            f"{checkpoints[-1].parent} and run again with --resume to continue from it"
        ) from None


def interrupted_message(run_dir: Path, step: int) -> str:
    """What an interrupted run says: where ``--resume`` will continue from."""
    saved = list_checkpoints(run_dir)
    if not saved:
        return f"interrupted at step {step}; no checkpoint was written yet, so --resume cannot continue this run"
    resumed = int(saved[-1].stem.split("_")[-1])  # step_00000040.pt
    repeat = f" (steps {resumed + 1}-{step} will be trained again)" if step > resumed else ""
    return (f"interrupted at step {step}; `gfm train --resume --out {run_dir}` continues from "
            f"{saved[-1]} (step {resumed}){repeat}; --set log.checkpoint_every=N saves more often")
