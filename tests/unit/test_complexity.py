"""Parameter and MAC counts against the paper's Table 7 and the released checkpoints' manifests."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest
import torch

import gfm
from gfm.errors import InputError
from gfm.models.gfm import ModelConfig
from gfm.profiling.complexity import RELEASED_UNUSED_PARAMETERS, count_complexity

MANIFESTS = Path(__file__).parents[1] / "data" / "official_gfm"


def test_r34_tt_at_800_is_the_papers_132_28_gmacs() -> None:
    params, macs = count_complexity(ModelConfig("r34", "TT"), 800)
    assert round(macs.paper / 1e9, 2) == 132.28  # Table 7, GFM(r)
    assert round(macs.conv / 1e9, 2) == 131.81  # FlopCounterMode: convolutions only
    # the difference is the element-wise work a module-hook counter adds
    assert macs.paper - macs.conv == macs.conv_bias + macs.batch_norm + macs.relu + macs.pooling + macs.upsampling
    assert macs.batch_norm > macs.relu > macs.conv_bias > macs.upsampling > macs.pooling > 0
    assert params.used == 54_773_316 and params.total == 55_286_316  # 55.29 M as released


def test_macs_scale_with_the_input_area() -> None:
    _, small = count_complexity(ModelConfig("r34", "TT"), 320)
    _, large = count_complexity(ModelConfig("r34", "TT"), 640)
    # all but the pyramid pooling's fixed 1/3/5-cell maps scale with the area
    assert large.conv == pytest.approx(4 * small.conv, rel=1e-3) and large.relu == 4 * small.relu
    _, wide = count_complexity(ModelConfig("r34", "TT"), 320, 640)
    assert wide.conv == pytest.approx(2 * small.conv, rel=1e-3) and wide.batch_norm == 2 * small.batch_norm
    with pytest.raises(InputError, match="multiples of 32"):
        count_complexity(ModelConfig("r34", "TT"), 100)


@pytest.mark.parametrize("variant", ["r34-TT", "r34-FT", "r34-RIM", "r34_2b-TT", "d121-TT", "r101-BT", "r101-RIM"])
def test_parameter_counts_match_the_released_checkpoints(variant: str) -> None:
    with gzip.open(MANIFESTS / f"{variant}.manifest.json.gz", "rt") as handle:
        manifest = json.load(handle)
    # trainable parameters of the released module: float tensors stored once, not running statistics
    stored = sum(
        math.prod(row["shape"])
        for row in manifest["keys"]
        if not row.get("alias_of")
        and row["dtype"].startswith("float")
        and not row["key"].endswith(("running_mean", "running_var"))
    )
    params, _ = count_complexity(ModelConfig(*variant.split("-")), 64)
    assert params.total == stored
    assert params.total - params.used == RELEASED_UNUSED_PARAMETERS[manifest["backbone"]]


def test_checkpoints_of_our_own_have_no_unused_parameters(tmp_path: Path) -> None:
    model = gfm.create_model("tiny", "RIM")
    params, macs = count_complexity(model, 64)
    assert params.used == params.total == sum(p.numel() for p in model.parameters())
    assert macs.paper > macs.conv > 0
    path = gfm.save_checkpoint(model, tmp_path / "tiny.pth")
    loaded_params, loaded_macs = count_complexity(gfm.load_model(path), 64)
    assert (loaded_params, loaded_macs) == (params, macs)
    # counting never touches the real weights
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert count_complexity(model, 64, released=True)[0].total == params.total  # tiny: nothing released


def test_counting_runs_on_the_meta_device(monkeypatch: pytest.MonkeyPatch) -> None:
    devices: list[str] = []
    original = torch.nn.Module.__call__

    def spy(self: torch.nn.Module, *args: object, **kwargs: object) -> object:
        if isinstance(self, gfm.GFM):
            devices.append(next(self.parameters()).device.type)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.nn.Module, "__call__", spy)
    count_complexity(ModelConfig("r101", "TT"), 800)  # 495 M parameters: only shapes are allocated
    assert devices == ["meta"]
