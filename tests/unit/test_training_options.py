"""Training options used by the default-model recipe: the learning-rate schedule
and bf16 autocast / channels-last on CPU."""

from __future__ import annotations

import math

import pytest
import torch

from gfm.engine.config import TrainConfig, validate
from gfm.engine.steps import amp_settings, learning_rate
from gfm.errors import ConfigError


def _config(**optim: object) -> TrainConfig:
    config = TrainConfig()
    config.data.root = "."
    for key, value in optim.items():
        setattr(config.optim, key, value)
    return validate(config)


def test_constant_schedule_is_the_paper_default() -> None:
    config = _config(lr=1e-5)
    assert [learning_rate(config, s, 100) for s in (0, 50, 99)] == [1e-5] * 3


def test_warmup_then_cosine() -> None:
    config = _config(lr=3e-4, schedule="cosine", warmup_steps=10, lr_min=1e-5)
    assert learning_rate(config, 0, 110) == pytest.approx(3e-5)
    assert learning_rate(config, 9, 110) == pytest.approx(3e-4)
    assert learning_rate(config, 10, 110) == pytest.approx(3e-4)
    assert learning_rate(config, 60, 110) == pytest.approx(1e-5 + 0.5 * (3e-4 - 1e-5) * (1 + math.cos(math.pi * 0.5)))
    assert learning_rate(config, 110, 110) == pytest.approx(1e-5)
    lrs = [learning_rate(config, s, 110) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


def test_a_short_run_can_follow_a_longer_schedule() -> None:
    long = _config(lr=3e-4, schedule="cosine", warmup_steps=10, lr_min=1e-5)
    short = _config(lr=3e-4, schedule="cosine", warmup_steps=10, lr_min=1e-5, schedule_steps=110)
    assert [learning_rate(short, s, 20) for s in range(20)] == [learning_rate(long, s, 110) for s in range(20)]


def test_schedule_options_are_validated() -> None:
    with pytest.raises(ConfigError, match="lr_min"):
        _config(lr=1e-4, lr_min=1e-3)
    with pytest.raises(ConfigError, match="warmup_steps"):
        _config(warmup_steps=-1)


def test_bf16_autocast_only_when_asked_on_cpu() -> None:
    cpu = torch.device("cpu")
    assert amp_settings(cpu, "bf16") == (torch.bfloat16, False)
    assert amp_settings(cpu, "auto") == (None, False)  # CPU training stays fp32 unless told
    assert amp_settings(cpu, "off") == (None, False)
