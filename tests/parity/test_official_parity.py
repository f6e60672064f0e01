"""Our network computes what the released GFM computes, on the same weights.

Golden outputs were produced by the released code on CPU with deterministic
weights (tests/data/official_gfm/README: rebuilt here by official_weights.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from official_weights import deterministic_state_dict, read_manifest

import gfm

DATA = Path(__file__).parents[1] / "data" / "official_gfm"
GOLDEN = ["r34-TT", "r34-FT", "r34-BT", "r34-RIM", "d121-TT"]
ATOL = 1e-5


def _load(variant: str) -> tuple[gfm.GFM, dict[str, np.ndarray]]:
    backbone, rosta = variant.split("-")
    model = gfm.create_model(backbone, rosta).eval()
    gfm.load_weights(model, deterministic_state_dict(read_manifest(DATA / f"{variant}.manifest.json.gz")))
    return model, dict(np.load(DATA / f"{variant}_s64.npz"))


def _check_head(out: gfm.GFMOutput, golden: dict[str, np.ndarray], prefix: str) -> None:
    glance = torch.sigmoid(out.glance_logits).numpy()
    np.testing.assert_allclose(glance, golden[prefix + "glance"], atol=ATOL, rtol=0)
    np.testing.assert_allclose(out.focus.numpy(), golden[prefix + "focus"], atol=ATOL, rtol=0)
    # The fusion depends on an argmax: compare where the top two glance scores differ clearly.
    top2 = np.sort(golden[prefix + "glance"], axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > 1e-3
    assert clear.mean() > 0.5, "the comparison must cover most pixels"
    fusion = out.fusion.numpy()[:, 0]
    np.testing.assert_allclose(fusion[clear], golden[prefix + "fusion"][:, 0][clear], atol=ATOL, rtol=0)


@pytest.mark.parity
@pytest.mark.parametrize("variant", GOLDEN)
def test_forward_matches_released_network(variant: str) -> None:
    model, golden = _load(variant)
    with torch.inference_mode():
        out = model(torch.from_numpy(golden["input"]))
    if variant.endswith("RIM"):
        for head in ("TT", "FT", "BT"):
            _check_head(out.rosta[head], golden, head.lower() + "_")
        assert out.fusion_raw is not None
        np.testing.assert_allclose(out.fusion_raw.numpy(), golden["fusion"], atol=ATOL, rtol=0)
        # The released code forgets to clamp RIM's output; we present it clamped.
        assert golden["fusion"].min() < 0
        np.testing.assert_array_equal(out.fusion.numpy(), np.clip(out.fusion_raw.numpy(), 0, 1))
    else:
        _check_head(out, golden, "")


@pytest.mark.parity
def test_optimised_inference_matches(tmp_path: Path) -> None:
    """The inference-optimised model (BN folded, channels-last) stays within 1e-5."""
    from gfm.models.optimize import optimize_for_inference

    model, golden = _load("r34-TT")
    x = torch.from_numpy(golden["input"])
    with torch.inference_mode():
        reference = model(x)
        fast = optimize_for_inference(model)(x)
    np.testing.assert_allclose(fast.glance_logits.numpy(), reference.glance_logits.numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(fast.focus.numpy(), reference.focus.numpy(), atol=1e-5, rtol=0)


@pytest.mark.parity
@pytest.mark.slow
def test_released_file_load_model_and_convert(tmp_path: Path) -> None:
    """A released FT file on disk: recognised from keys + file name, converted, reloaded."""
    from gfm.cli.main import main

    golden = dict(np.load(DATA / "r34-FT_s64.npz"))
    state = {"module." + k: v for k, v in deterministic_state_dict(read_manifest(DATA / "r34-FT.manifest.json.gz")).items()}
    released = tmp_path / "GFM_r34_ft_model.pth"  # DataParallel prefixes, FT named in the file name
    torch.save(state, released)

    model = gfm.load_model(released)
    assert model.config.name == "r34-FT"
    assert model.checkpoint_meta.source == "released"
    assert model.checkpoint_meta.normalization.name == "raw255"

    ours = tmp_path / "ours.pth"
    assert main(["convert", str(released), str(ours)]) == 0
    assert main(["convert", str(released), str(ours)]) == 2  # refuses to overwrite
    converted = gfm.load_model(ours)
    assert converted.checkpoint_meta.source == "gfm"
    x = torch.from_numpy(golden["input"])
    with torch.inference_mode():
        a, b = model(x), converted(x)
    assert torch.equal(a.focus, b.focus)
    np.testing.assert_allclose(a.focus.numpy(), golden["focus"], atol=ATOL, rtol=0)
