"""The focus heads computed only where the fusion reads them equal the dense heads there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import gfm
from gfm.inference import Predictor
from gfm.io import read_image
from gfm.models.decoders.blocks import DecoderBlock
from gfm.models.decoders.regions import BAND_ROWS, apply_where_needed
from gfm.models.optimize import optimize_for_inference

DEMO = Path(__file__).resolve().parents[1] / "data" / "am2k"


def _masks(height: int, width: int) -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(1)
    scattered = torch.from_numpy(rng.random((height, width)) < 0.002)
    ring = torch.zeros(height, width, dtype=torch.bool)
    ring[height // 4 : 3 * height // 4, width // 5] = True
    ring[height // 4, width // 5 : 4 * width // 5] = True
    corners = torch.zeros(height, width, dtype=torch.bool)
    corners[0, 0] = corners[-1, -1] = corners[0, -1] = corners[-1, 0] = True
    return {
        "scattered": scattered,
        "ring": ring,
        "corners": corners,
        "band edges": torch.zeros(height, width, dtype=torch.bool).index_fill_(0, torch.tensor([2 * BAND_ROWS - 1, 2 * BAND_ROWS]), True),
        "everything": torch.ones(height, width, dtype=torch.bool),
    }


@pytest.mark.parametrize("channels_last", [False, True])
def test_head_on_crops_equals_dense_head(channels_last: bool) -> None:
    torch.manual_seed(0)
    head = DecoderBlock(24, 16, 16, 1, scale=2, head=True).eval()
    x = torch.randn(1, 24, 3 * BAND_ROWS + 5, 77)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        dense = head(x)[0, 0]
        for name, needed in _masks(*dense.shape).items():
            sparse = apply_where_needed(head, x, needed, halo=4, scale=2, out_channels=1)[0, 0]
            torch.testing.assert_close(sparse[needed], dense[needed], rtol=0, atol=1e-5, msg=name)
        empty = apply_where_needed(head, x, torch.zeros_like(dense, dtype=torch.bool), halo=4, scale=2, out_channels=1)
        assert not empty.any()


def test_too_small_halo_is_caught_by_the_comparison() -> None:
    """The check above has teeth: a halo short of the block's reach changes values."""
    torch.manual_seed(0)
    head = DecoderBlock(8, 8, 8, 1, scale=2, head=True).eval()
    x = torch.randn(1, 8, 2 * BAND_ROWS, 40)
    needed = _masks(4 * BAND_ROWS, 80)["band edges"]
    with torch.no_grad():
        dense = head(x)[0, 0]
        short = apply_where_needed(head, x, needed, halo=1, scale=2, out_channels=1)[0, 0]
    assert (short[needed] - dense[needed]).abs().max() > 1e-4


@pytest.mark.parametrize("strategy", ["hybrid", "single"])
def test_predictor_alpha_is_the_same_with_and_without_sparse_focus(strategy: str) -> None:
    torch.manual_seed(3)
    model = gfm.create_model("r34", "TT")
    image = read_image(DEMO / "original" / "sample1.jpg")  # a real photo, downscaled
    predictor = Predictor(model, strategy=strategy, device="cpu")
    seen: list[float] = []
    inner = predictor.models[0].predict_focus

    def spy(features, needed=None):  # type: ignore[no-untyped-def]
        seen.append(float(needed.float().mean()) if needed is not None else 1.0)
        return inner(features, needed)

    predictor.models[0].predict_focus = spy  # type: ignore[method-assign]
    sparse = predictor.predict(image).alpha
    predictor.sparse_focus = False
    dense = predictor.predict(image).alpha
    assert 0.0 < seen[0] < 0.9 and seen[1] == 1.0  # a real partial transition area was exercised
    np.testing.assert_allclose(sparse, dense, rtol=0, atol=1e-5)


def test_optimised_model_keeps_the_halo() -> None:
    """BN folding must not change the heads' reach (the halo is read from the modules)."""
    model = optimize_for_inference(gfm.create_model("tiny", "TT"))
    features = model.encode(torch.rand(1, 3, 128, 160) * 255)
    needed = torch.zeros(128, 160, dtype=torch.bool)
    needed[70:90, 30:60] = True  # a patch of transition
    with torch.no_grad():
        dense = model.predict_focus(features)["TT"][0, 0]
        sparse = model.predict_focus(features, needed)["TT"][0, 0]
    torch.testing.assert_close(sparse[needed], dense[needed], rtol=0, atol=1e-6)
    assert (sparse == 0.5).float().mean() > 0.5  # most of the map was skipped


def test_focus_everywhere_keeps_the_sparse_bits_and_fills_the_rest() -> None:
    """Guided matting reads the focus anywhere yet must reproduce the sparse run bit for bit."""
    torch.manual_seed(2)
    model = optimize_for_inference(gfm.create_model("tiny", "RIM"))
    features = model.encode(torch.rand(1, 3, 128, 160) * 255)
    needed = torch.zeros(128, 160, dtype=torch.bool)
    needed[40:90, 30:100] = True
    with torch.no_grad():
        dense = model.predict_focus(features)
        sparse = model.predict_focus(features, needed)
        both = model.predict_focus(features, needed, everywhere=True)
    for head in model.heads:
        assert torch.equal(both[head][0, 0][needed], sparse[head][0, 0][needed])
        assert torch.equal(both[head][0, 0][~needed], dense[head][0, 0][~needed])


@pytest.mark.parametrize("backbone", ["d121", "r34_2b"])
def test_other_backbones_heads_on_crops(backbone: str) -> None:
    """d121 (up-sampling head) and r2b (a single-conv head at full resolution)."""
    torch.manual_seed(0)
    model = optimize_for_inference(gfm.create_model(backbone, "TT"))
    needed = torch.zeros(96, 128, dtype=torch.bool)
    needed[40:60, 20:50] = True
    needed[0, 127] = True  # a corner
    with torch.no_grad():
        features = model.encode(torch.rand(1, 3, 96, 128) * 255)
        dense = model.predict_focus(features)["TT"][0, 0]
        sparse = model.predict_focus(features, needed)["TT"][0, 0]
    torch.testing.assert_close(sparse[needed], dense[needed], rtol=0, atol=1e-6)
