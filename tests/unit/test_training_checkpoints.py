"""Training checkpoints: every failure says what is intact and what to run next (issue 11, item 11)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from gfm.engine import checkpoints
from gfm.engine.checkpoints import load_training_checkpoint, save_training_checkpoint
from gfm.errors import CheckpointError


class Payload:
    """Not a tensor or a plain container: unpickling it would import (and could run) code."""


def _payload() -> dict[str, object]:
    return {"model": {"w": torch.zeros(3)}, "state": {"step": 1}}


def test_a_full_disk_in_a_new_run_does_not_advise_resuming(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkpoints.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 10, 10))
    with pytest.raises(checkpoints.OutOfSpaceError) as caught:
        save_training_checkpoint(tmp_path, 1, _payload(), keep_last=2)
    assert "nothing of this run was saved yet: start it again (without --resume)" in str(caught.value)
    assert "(none)" not in str(caught.value)
    monkeypatch.undo()
    save_training_checkpoint(tmp_path, 1, _payload(), keep_last=2)
    monkeypatch.setattr(checkpoints.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 10, 10))
    with pytest.raises(checkpoints.OutOfSpaceError, match="the last checkpoint step_00000001.pt is intact: continue from it with --resume"):
        save_training_checkpoint(tmp_path, 2, _payload(), keep_last=2)


def test_a_hostile_training_checkpoint_is_refused_in_words(tmp_path: Path) -> None:
    path = tmp_path / "step_00000001.pt"
    torch.save({"format": "gfm-train", "state": Payload()}, path)
    with pytest.raises(CheckpointError) as caught:
        load_training_checkpoint(path)
    message = str(caught.value)
    assert "holds pickled Python objects besides tensors, which gfm refuses to load" in message
    assert "Weights only load failed" not in message


def test_a_truncated_newest_checkpoint_names_the_intact_previous_one(tmp_path: Path) -> None:
    from gfm.engine.resume import load_newest_checkpoint

    first = save_training_checkpoint(tmp_path, 1, _payload(), keep_last=3)
    newest = save_training_checkpoint(tmp_path, 2, _payload(), keep_last=3)
    newest.write_bytes(newest.read_bytes()[:200])
    with pytest.raises(CheckpointError) as caught:
        load_newest_checkpoint([first, newest])
    message = str(caught.value)
    assert "it is truncated or corrupt" in message
    assert f"The previous checkpoint {first.name} is there: move {newest} out of" in message and "--resume" in message
    assert load_newest_checkpoint([first])["state"] == {"step": 1}


def test_a_killed_runs_half_written_checkpoint_is_removed(tmp_path: Path) -> None:
    import os

    folder = tmp_path / "checkpoints"
    folder.mkdir()
    stale = folder / ".step_00000002.pt.ab12cd34.tmp.pt"
    stale.write_bytes(b"half a checkpoint")
    os.utime(stale, (1e9, 1e9))
    save_training_checkpoint(tmp_path, 3, _payload(), keep_last=2)
    assert sorted(p.name for p in folder.iterdir()) == ["step_00000003.pt"]
