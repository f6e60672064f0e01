"""Structure and behaviour of the network on the tiny variant (fast)."""

from __future__ import annotations

import pytest
import torch

import gfm
from gfm.errors import ConfigError, InputError
from gfm.models.fusion import collaborative_matting
from gfm.models.registry import BackboneSpec, register_backbone


@pytest.mark.parametrize("rosta", ["TT", "FT", "BT", "RIM"])
def test_tiny_forward_shapes(rosta: str) -> None:
    model = gfm.create_model("tiny", rosta).eval()
    with torch.inference_mode():
        out = model(torch.rand(2, 3, 64, 96) * 255)
    classes = 2 if rosta in ("FT", "BT") else 3
    assert out.glance_logits.shape == (2, classes, 64, 96)
    assert out.focus.shape == out.fusion.shape == (2, 1, 64, 96)
    assert 0 <= out.focus.min() and out.focus.max() <= 1
    assert 0 <= out.fusion.min() and out.fusion.max() <= 1
    if rosta == "RIM":
        assert set(out.rosta) == {"TT", "FT", "BT"}
        assert out.fusion_raw is not None
        assert torch.equal(out.fusion, out.fusion_raw.clamp(0, 1))
    else:
        assert out.rosta == {} and out.fusion_raw is None


def test_tiny_is_small() -> None:
    params = sum(p.numel() for p in gfm.create_model("tiny", "TT").parameters())
    assert 100_000 < params < 1_000_000


@pytest.mark.parametrize(
    "options",
    [{"single_decoder": True}, {"ppm": "none"}, {"ppm": "single"}, {"bridge": False}, {"single_decoder": True, "ppm": "single"}],
)
def test_ablations_build_and_run(options: dict) -> None:
    model = gfm.create_model("tiny", "TT", **options).eval()
    full = gfm.create_model("tiny", "TT")
    with torch.inference_mode():
        out = model(torch.rand(1, 3, 64, 64) * 255)
    assert out.fusion.shape == (1, 1, 64, 64)
    # each ablation removes parameters relative to the full network
    assert sum(p.numel() for p in model.parameters()) < sum(p.numel() for p in full.parameters())
    assert model.config.name != full.config.name


def test_r34_2b_keeps_full_resolution_head() -> None:
    with torch.device("meta"):
        model = gfm.create_model("r34_2b", "TT")
    assert model.encoder.strides == (1, 1, 2, 4, 8, 16, 32)
    assert "0" not in model.glance.branches  # psp1 of the released model is unused
    assert len(model.glance.heads["TT"]) == 1  # a single conv


@pytest.mark.parametrize(("shape", "message"), [((1, 3, 50, 64), "pad or resize to 64x64"), ((1, 4, 64, 64), "3 colour channels"), ((3, 64, 64), "(B, 3, H, W)")])
def test_bad_input_is_explained(shape: tuple[int, ...], message: str) -> None:
    model = gfm.create_model("tiny", "TT")
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        model(torch.zeros(shape))


def test_unknown_names_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown backbone"):
        gfm.create_model("r50", "TT")
    with pytest.raises(ConfigError, match="unknown RoSTa"):
        gfm.create_model("r34", "XT")


def test_registry_refuses_duplicates() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_backbone(BackboneSpec("r34", lambda: None, "dup", None))  # type: ignore[arg-type,return-value]


def test_collaborative_matting_rules() -> None:
    focus = torch.tensor([0.3, 0.3, 0.3]).view(1, 1, 1, 3)
    # classes 0, 1, 2 at the three pixels
    tt_logits = torch.eye(3).T.reshape(1, 3, 1, 3)
    assert collaborative_matting(tt_logits, focus, "TT").flatten().tolist() == pytest.approx([0.0, 0.3, 1.0])
    two = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 2, 1, 3)  # classes 0, 1, 0
    assert collaborative_matting(two, focus, "FT").flatten().tolist() == pytest.approx([0.3, 1.0, 0.3])
    assert collaborative_matting(two, focus, "BT").flatten().tolist() == pytest.approx([0.0, 0.7, 0.0])


def test_hybrid_building_blocks_equal_forward() -> None:
    """encode / predict_glance / predict_focus / fuse compose to forward (used by hybrid inference)."""
    model = gfm.create_model("tiny", "RIM").eval()
    x = torch.rand(1, 3, 64, 64) * 255
    with torch.inference_mode():
        whole = model(x)
        features = model.encode(x)
        parts = model.fuse(model.predict_glance(features), model.predict_focus(features))
    assert torch.equal(whole.fusion, parts.fusion)
