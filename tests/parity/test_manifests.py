"""The loader consumes every released checkpoint layout (all 16 manifests)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from official_weights import meta_state_dict, read_manifest

import gfm
from gfm.errors import CheckpointError
from gfm.models.official import convert_official_state_dict, detect_official_variant

DATA = Path(__file__).parents[1] / "data" / "official_gfm"
MANIFESTS = sorted(p.name.split(".")[0] for p in DATA.glob("*.manifest.json.gz"))

# Keys the released forward never uses (fixtures README).
UNUSED = {
    "r34": r"^resnet\.fc\.",
    "r101": r"^resnet\.fc\.",
    "r34_2b": r"^(resnet\.(fc|conv1|bn1)\.|psp1\.)",
    "d121": r"^densenet\.(features\.norm5|classifier)\.",
}

# Parameters the released forward uses (fixtures README); FT and BT have 577 fewer than TT.
USED_PARAMETERS = {
    "r34-TT": 54_773_316,
    "r34-RIM": 55_220_891,
    "r34_2b-TT": 125_061_316,
    "r34_2b-RIM": 125_064_987,
    "d121-TT": 45_934_724,
    "d121-RIM": 46_382_299,
    "r101-TT": 495_207_556,
    "r101-RIM": 495_655_131,
}


def _meta_model(backbone: str, rosta: str) -> gfm.GFM:
    with torch.device("meta"):
        return gfm.create_model(backbone, rosta)


def test_all_sixteen_manifests_present() -> None:
    assert len(MANIFESTS) == 16


@pytest.mark.parametrize("variant", MANIFESTS)
def test_loader_consumes_manifest(variant: str) -> None:
    backbone, rosta = variant.split("-")
    manifest = read_manifest(DATA / f"{variant}.manifest.json.gz")
    state = meta_state_dict(manifest)
    detected = detect_official_variant(state)
    assert detected.backbone == backbone
    assert detected.rosta == ("FT|BT" if rosta in ("FT", "BT") else rosta)

    model = _meta_model(backbone, rosta)
    gfm.load_weights(model, state, rosta=rosta)  # strict: raises on anything missing or extra

    converted = convert_official_state_dict(state, backbone, rosta)
    assert set(converted) == set(model.state_dict())
    aliases = {row["key"] for row in manifest["keys"] if row.get("alias_of")}
    canonical_used = {row["key"] for row in manifest["keys"] if not row.get("alias_of") and not re.match(UNUSED[backbone], row["key"])}
    dropped = {row["key"] for row in manifest["keys"]} - aliases - canonical_used
    assert all(re.match(UNUSED[backbone], key) for key in dropped)
    # every used canonical tensor lands somewhere, once
    assert len(canonical_used) == len(converted)


@pytest.mark.parametrize("variant", MANIFESTS)
def test_parameter_counts_match_released_forward(variant: str) -> None:
    backbone, rosta = variant.split("-")
    params = sum(p.numel() for p in _meta_model(backbone, rosta).parameters())
    expected = USED_PARAMETERS.get(variant) or USED_PARAMETERS[f"{backbone}-TT"] - 577
    assert params == expected


@pytest.mark.parametrize(
    ("checkpoint", "model_variant", "hint"),
    [
        ("d121-TT", "r34-TT", "backbone='d121'"),
        ("r34-RIM", "r34-TT", "rosta='RIM'"),
        ("r34_2b-TT", "r34-TT", "backbone='r34_2b'"),
        ("r101-TT", "d121-TT", "backbone='r101'"),
    ],
)
def test_wrong_variant_names_the_right_one(checkpoint: str, model_variant: str, hint: str) -> None:
    state = meta_state_dict(read_manifest(DATA / f"{checkpoint}.manifest.json.gz"))
    model = _meta_model(*model_variant.split("-"))
    with pytest.raises(CheckpointError) as info:
        gfm.load_weights(model, state)
    assert f"the checkpoint is {checkpoint}" in str(info.value)
    assert hint in str(info.value)


def test_ft_bt_ambiguity_is_explained() -> None:
    state = meta_state_dict(read_manifest(DATA / "r34-FT.manifest.json.gz"))
    with pytest.raises(CheckpointError, match="FT or BT"):
        gfm.load_model(state)
