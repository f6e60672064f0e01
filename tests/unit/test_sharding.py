"""gfm.sharding without torchrun: shares, devices, threads, and what one process does."""

from __future__ import annotations

import pytest

from gfm.errors import ConfigError
from gfm.sharding import Shard, process_device, process_threads, shard_from_environment


@pytest.mark.parametrize("count", [0, 1, 2, 5, 7, 16])
@pytest.mark.parametrize("world_size", [1, 2, 3, 8])
def test_shares_cover_every_item_exactly_once(count: int, world_size: int) -> None:
    items = [f"photo{i}.jpg" for i in range(count)]
    shares = [Shard(rank, world_size).take(items) for rank in range(world_size)]
    assert sorted(x for share in shares for x in share) == sorted(items)
    assert max(map(len, shares)) - min(map(len, shares)) <= 1
    assert shares == [Shard(rank, world_size).take(items) for rank in range(world_size)]  # deterministic


def test_one_process_is_a_shard_of_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    shard = shard_from_environment()
    assert shard == Shard() and not shard.enabled and shard.is_main
    assert shard.take([1, 2, 3]) == [1, 2, 3] and shard.all_gather("x") == ["x"]
    assert shard.on_main(lambda: 42) == 42
    shard.check_same(["a"], "inputs")
    shard.raise_first(None)
    with pytest.raises(ValueError):
        shard.raise_first(ValueError("boom"))


def test_world_size_without_rank_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(ConfigError, match="torchrun"):
        shard_from_environment()


def test_each_process_gets_its_device_and_a_share_of_the_cores() -> None:
    one, second = Shard(), Shard(rank=1, world_size=4, local_rank=1, local_world_size=2)
    assert process_device("auto", one) == "auto" and process_device("cuda", one) == "cuda"
    assert process_device("cpu", second) == "cpu" and process_device("cuda:3", second) == "cuda:3"
    assert process_device(None, second) in (None, "cuda:1")  # cuda:LOCAL_RANK where CUDA is available
    assert process_threads(None, one) is None and process_threads(3, second) == 3
    assert process_threads(None, second, cores=8) in (1, 2, 3, 4)  # at most half the free cores


def test_what_cannot_be_shared_is_refused_before_any_work(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Standard input, -o FILE and --sweep under torchrun: clear errors, not a hang or a half-done run."""
    import argparse
    from pathlib import Path

    from gfm.cli._sharding import take_share
    from gfm.cli.evaluate import _check_options
    from gfm.inference.batch import CollectedInputs, MatteJob

    two = Shard(rank=0, world_size=2)
    for job in (MatteJob(Path("-"), Path("stdin")), MatteJob(tmp_path / "a.jpg", Path("a"), target=tmp_path / "cut.png")):
        with pytest.raises(ConfigError, match="without torchrun"):
            take_share(two, CollectedInputs(jobs=[job]))
    found = CollectedInputs(jobs=[MatteJob(tmp_path / "a.jpg", Path("a"))], problems=["x: broken"])
    assert take_share(Shard(), found) is found  # one process: untouched
    args = argparse.Namespace(pred=None, sweep=True, sweep_settings=None, strategy=None, shard=two)
    with pytest.raises(ConfigError, match="--sweep"):
        _check_options(args)
