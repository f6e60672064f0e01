"""The released GFM checkpoints (JizhiziLi/GFM): key mapping and recognition.

The released ``state_dict`` is flat (``decoder4_g.0.weight``), registers the
backbone twice (``resnet.layer1...`` and its alias ``encoder1.1...``) and
holds tensors its forward never uses (``resnet.fc``, r2b's ImageNet stem and
``psp1``, DenseNet's ``norm5`` and classifier). :func:`convert_official_state_dict`
renames it to this project's module names; :func:`detect_official_variant`
recognises backbone and RoSTa from the keys and shapes alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from gfm.errors import CheckpointError

# Each rule: (pattern, replacement or None to drop). First match wins.
_Rule = tuple[re.Pattern[str], str | None]


def _rules(pairs: list[tuple[str, str | None]]) -> list[_Rule]:
    return [(re.compile(p), r) for p, r in pairs]


_PREFIX_RULES = _rules(
    [
        (r"^psp_module\.", "glance.ppm."),
        (r"^bridge_block\.", "focus.bridge."),
    ]
)

_BACKBONE_RULES: dict[str, list[tuple[str, str | None]]] = {
    "r34": [
        (r"^resnet\.fc\.", None),
        (r"^resnet\.", "encoder."),
        (r"^encoder0\.0\.", "encoder.conv1."),
        (r"^encoder0\.1\.", "encoder.bn1."),
        (r"^encoder1\.1\.", "encoder.layer1."),
        (r"^encoder([2-4])\.", r"encoder.layer\1."),
    ],
    "r34_2b": [
        (r"^resnet\.(fc|conv1|bn1)\.", None),
        (r"^psp1\.", None),
        (r"^resnet\.", "encoder."),
        (r"^encoder0\.", "encoder.stem."),
        (r"^encoder([1-6])\.", r"encoder.layer\1."),
    ],
    "d121": [
        (r"^densenet\.(classifier|features\.norm5)\.", None),
        (r"^densenet\.features\.", "encoder.features."),
        (r"^encoder0\.0\.", "encoder.features.conv0."),
        (r"^encoder0\.1\.", "encoder.features.norm0."),
        (r"^encoder([1-4])\.0\.", r"encoder.features.denseblock\1."),
        (r"^encoder([1-3])\.1\.", r"encoder.features.transition\1."),
        (r"^encoder4\.1\.", "encoder.reduce.0."),  # the 1024->512 channel reduction
        (r"^encoder4\.2\.", "encoder.reduce.1."),
    ],
}
_BACKBONE_RULES["r101"] = _BACKBONE_RULES["r34"]

_COMPILED_BACKBONE_RULES = {name: _rules(pairs) for name, pairs in _BACKBONE_RULES.items()}
_PSP = re.compile(r"^psp(\d+)\.(.*)$")
_DECODER = re.compile(r"^decoder(\d+)_([gf])(?:_(tt|ft|bt))?\.(.*)$")


def _rename(key: str, backbone: str, rosta: str) -> str | None:
    """Our name for a released key, or ``None`` when the key is not used."""
    for pattern, replacement in _COMPILED_BACKBONE_RULES[backbone]:
        if pattern.match(key):
            return None if replacement is None else pattern.sub(replacement, key, count=1)
    match = _PSP.match(key)
    if match:  # pspJ feeds decoder block J-1
        return f"glance.branches.{int(match.group(1)) - 1}.{match.group(2)}"
    match = _DECODER.match(key)
    if match:
        stage, branch, head, rest = match.groups()
        module = "glance" if branch == "g" else "focus"
        if stage == "0":
            return f"{module}.heads.{(head or rosta).upper()}.{rest}"
        return f"{module}.blocks.{stage}.{rest}"
    for pattern, replacement in _PREFIX_RULES:
        if pattern.match(key):
            return pattern.sub(replacement, key, count=1)
    return key  # unknown: reported as unexpected by the loader


def convert_official_state_dict(
    state_dict: dict[str, torch.Tensor], backbone: str, rosta: str
) -> dict[str, torch.Tensor]:
    """Rename a released GFM state dict to this project's names.

    Aliased keys collapse onto one name (the first occurrence wins; they are
    the same tensor in released files); unused keys are dropped.
    """
    if backbone not in _BACKBONE_RULES:
        raise CheckpointError(f"no released GFM checkpoints exist for backbone {backbone!r}")
    converted: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        name = _rename(key, backbone, rosta)
        if name is not None and name not in converted:
            converted[name] = value
    return converted


@dataclass(frozen=True)
class OfficialVariant:
    """What a released checkpoint is. ``rosta`` is ``"FT|BT"`` when the file
    alone cannot tell (FT and BT checkpoints have identical shapes)."""

    backbone: str
    rosta: str

    @property
    def ambiguous(self) -> bool:
        return "|" in self.rosta


def is_official_state_dict(state_dict: dict[str, torch.Tensor]) -> bool:
    """True for the released flat layout (``decoder0_g`` / ``bridge_block`` keys)."""
    return any(k.startswith(("bridge_block.", "decoder0_g", "psp_module.")) for k in state_dict)


def detect_official_variant(state_dict: dict[str, torch.Tensor]) -> OfficialVariant:
    """Recognise backbone and RoSTa of a released state dict from keys and shapes."""
    keys = set(state_dict)
    if any(k.startswith("densenet.") for k in keys):
        backbone = "d121"
    elif any(k.startswith("encoder6.") for k in keys):
        backbone = "r34_2b"
    elif "resnet.layer1.0.conv3.weight" in keys or "encoder1.1.0.conv3.weight" in keys:
        backbone = "r101"
    elif any(k.startswith(("resnet.", "encoder1.")) for k in keys):
        backbone = "r34"
    else:
        raise CheckpointError("not a GFM checkpoint: no ResNet or DenseNet encoder keys found")
    if "rim.0.weight" in keys:
        return OfficialVariant(backbone, "RIM")
    head_convs = [k for k in keys if re.match(r"^decoder0_g\.\d+\.weight$", k) and state_dict[k].ndim == 4]
    if not head_convs:
        raise CheckpointError("not a GFM checkpoint: no glance head (decoder0_g) found")
    last = max(head_convs, key=lambda k: int(k.split(".")[1]))
    classes = state_dict[last].shape[0]
    if classes == 3:
        return OfficialVariant(backbone, "TT")
    if classes == 2:
        return OfficialVariant(backbone, "FT|BT")
    raise CheckpointError(f"glance head has {classes} output channels; GFM heads have 3 (TT) or 2 (FT/BT)")
