"""Predictor: strategies, sizing, full-resolution fusion, ensembles."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gfm
from gfm.errors import ConfigError, InputError
from gfm.inference import Predictor, Strategy, get_strategy
from gfm.inference.predictor import _fuse_full_resolution
from gfm.inference.sizing import MIN_SIDE, WorkingSize, working_size
from gfm.models.normalization import IMAGENET


def _image(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


class Spy:
    """Records the input size of every encoder pass and which decoders ran on it."""

    def __init__(self, model: gfm.GFM) -> None:
        self.calls: list[tuple[str, tuple[int, int]]] = []
        encode, glance, focus = model.encode, model.predict_glance, model.predict_focus
        model.encode = lambda x: self._record("encode", x, encode(x))  # type: ignore[method-assign]
        model.predict_glance = lambda f: self._record("glance", f[0], glance(f), stride=model.encoder.strides[0])  # type: ignore[method-assign]
        model.predict_focus = lambda f, needed=None: self._record("focus", f[0], focus(f, needed), stride=model.encoder.strides[0])  # type: ignore[method-assign]
        model.forward = None  # type: ignore[assignment] # the predictor must never run the whole network

    def _record(self, what: str, x: torch.Tensor, result, stride: int = 1):
        self.calls.append((what, (x.shape[-2] * stride, x.shape[-1] * stride)))
        return result


def _spied_predictor(strategy: str) -> tuple[Predictor, Spy]:
    predictor = Predictor(gfm.create_model("tiny", "TT"), strategy=strategy, device="cpu")
    return predictor, Spy(predictor.models[0])


def test_hybrid_glance_at_one_third_focus_at_one_half() -> None:
    predictor, spy = _spied_predictor("hybrid")
    result = predictor.predict(_image(1080, 1620))
    # 1/3 of 1080x1620 = 360x540 -> padded 384x544; 1/2 = 540x810 -> 544x832
    assert spy.calls == [("encode", (384, 544)), ("glance", (384, 544)), ("encode", (544, 832)), ("focus", (544, 832))]
    assert result.alpha.shape == (1080, 1620)


def test_single_is_one_pass_at_five_thirteenths() -> None:
    predictor, spy = _spied_predictor("single")
    predictor.predict(_image(1080, 1620))
    # 1080 * 5/13 = 415.4 -> 415 -> 416; 1620 * 5/13 = 623.1 -> 623 -> 640
    assert spy.calls == [("encode", (416, 640)), ("glance", (416, 640)), ("focus", (416, 640))]


def test_resize_is_one_pass_at_one_half() -> None:
    predictor, spy = _spied_predictor("resize")
    predictor.predict(_image(640, 960))
    assert spy.calls == [("encode", (320, 480)), ("glance", (320, 480)), ("focus", (320, 480))]


def test_strategy_names() -> None:
    assert get_strategy("hybrid") == Strategy("hybrid", 1 / 3, 1 / 2)
    assert Strategy.from_ratios(3, 2).glance_scale == pytest.approx(1 / 3)
    with pytest.raises(ConfigError, match="unknown strategy"):
        get_strategy("fast")


@pytest.mark.parametrize(("height", "width", "scale"), [(1080, 1620, 0.5), (3000, 4000, 0.5), (7, 9, 1 / 3), (1, 1, 0.5), (40, 5000, 0.5)])
def test_working_size_keeps_aspect_and_budget(height: int, width: int, scale: float) -> None:
    size = working_size(height, width, scale, max_pixels=1600 * 1600)
    assert size.padded_height % 32 == 0 and size.padded_width % 32 == 0
    assert size.padded_height >= size.height and size.padded_width >= size.width
    assert size.height * size.width <= 1600 * 1600 * 1.01
    assert min(size.height, size.width) >= MIN_SIDE or size.height * size.width > 1600 * 1600 * 0.99
    assert size.width / size.height == pytest.approx(width / height, rel=0.05)


@pytest.mark.parametrize(("height", "width"), [(1, 100000), (2, 20000), (10, 200000), (3, 7000)])
def test_slivers_stay_within_the_budget(height: int, width: int) -> None:
    """Upscaling a sliver's short side to 64 px must not make a pass of hundreds of
    megapixels: the scale fits the budget and the short side is padded instead."""
    for scale in (1 / 3, 0.5, 5 / 13):
        size = working_size(height, width, scale, max_pixels=1600 * 1600)
        assert size.padded_height * size.padded_width <= 1600 * 1600 * 1.02
        assert min(size.padded_height, size.padded_width) >= MIN_SIDE
        assert size.height >= 1 and size.width >= 1


def test_a_sliver_is_matted_at_its_size() -> None:
    predictor = Predictor(gfm.create_model("tiny", "TT"), device="cpu", max_pixels=64 * 2000)
    result = predictor.predict(_image(3, 9000))
    assert result.alpha.shape == (3, 9000)


def test_too_small_budget_is_refused() -> None:
    with pytest.raises(InputError, match="at least 64x64"):
        Predictor(gfm.create_model("tiny", "TT"), device="cpu", max_pixels=100)


def test_huge_input_is_capped() -> None:
    size = working_size(9000, 12000, 0.5, max_pixels=1600 * 1600)
    assert size.height * size.width <= 1600 * 1600
    assert size.width / size.height == pytest.approx(12000 / 9000, rel=0.01)


@pytest.mark.parametrize("shape", [(1, 1), (5, 300), (33, 47), (1081, 1619)])
def test_output_is_input_size(shape: tuple[int, int]) -> None:
    predictor = Predictor(gfm.create_model("tiny", "FT"), device="cpu")
    result = predictor.predict(_image(*shape), trimap=True)
    assert result.alpha.shape == shape and result.alpha.dtype == np.float32
    assert result.trimap is not None and result.trimap.shape == shape
    assert 0 <= result.alpha.min() and result.alpha.max() <= 1


def test_full_resolution_tt_fusion() -> None:
    """Glance classes up-sampled to full resolution; borders of class regions take the focus."""
    classes = np.zeros((32, 32), np.uint8)
    classes[8:24, 8:24] = 2  # foreground block
    classes[8:24, 8] = 1  # a transition column
    size = WorkingSize(32, 32, 32, 32)
    focus = np.full((64, 64), 0.25, np.float32)
    alpha, trimap = _fuse_full_resolution("TT", classes, size, focus)
    assert alpha[32, 32] == 1.0 and trimap[32, 32] == 255  # inside the foreground
    assert alpha[2, 2] == 0.0 and trimap[2, 2] == 0  # background
    assert alpha[32, 17] == pytest.approx(0.25) and trimap[32, 17] == 128  # transition column
    assert set(np.unique(trimap)) == {0, 128, 255}
    # every transition pixel took the focus value, every other pixel is 0 or 1
    np.testing.assert_array_equal(alpha[trimap == 128], 0.25)


def test_ensemble_is_the_median() -> None:
    torch.manual_seed(0)
    models = [gfm.create_model("tiny", r) for r in ("TT", "FT", "BT")]
    image = _image(96, 128)
    singles = [Predictor(m, device="cpu").predict(image).alpha for m in models]
    ensemble = Predictor(models, device="cpu").predict(image).alpha
    np.testing.assert_allclose(ensemble, np.median(np.stack(singles), axis=0), atol=1e-6)


def test_rim_model_under_hybrid() -> None:
    result = Predictor(gfm.create_model("tiny", "RIM"), device="cpu").predict(_image(100, 150), trimap=True)
    assert result.alpha.shape == (100, 150) and 0 <= result.alpha.min() <= result.alpha.max() <= 1


def test_normalisation_comes_from_the_weights() -> None:
    model = gfm.create_model("tiny", "TT")
    model.checkpoint_meta = gfm.models.CheckpointMeta(model.config, IMAGENET)
    predictor = Predictor(model, strategy="resize", device="cpu")
    seen = []
    encode = predictor.models[0].encode
    predictor.models[0].encode = lambda x: seen.append(x.mean().item()) or encode(x)  # type: ignore[method-assign]
    predictor.predict(np.full((64, 64, 3), 255, np.uint8))
    assert seen[0] == pytest.approx(np.mean([(255 - m) / s for m, s in zip(IMAGENET.mean, IMAGENET.std)]), rel=1e-5)


def test_optimised_and_plain_predictors_agree() -> None:
    model = gfm.create_model("tiny", "TT").eval()
    with torch.no_grad():  # give batch norms non-trivial statistics
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)
    image = _image(120, 90)
    fast = Predictor(model, device="cpu", optimize=True).predict(image).alpha
    plain = Predictor(model, device="cpu", optimize=False).predict(image).alpha
    assert np.abs(fast - plain).max() < 1e-4


def test_bad_image_arrays() -> None:
    predictor = Predictor(gfm.create_model("tiny", "TT"), device="cpu")
    with pytest.raises(InputError, match="uint8 RGB"):
        predictor.predict(np.zeros((10, 10, 2), np.uint8))  # (gray (H, W) and RGBA (H, W, 4) are accepted)
    with pytest.raises(InputError, match="uint8 RGB"):
        predictor.predict(np.zeros((10, 10, 3), np.float32))


def test_bf16_precision_is_close_to_fp32() -> None:
    model = gfm.create_model("tiny", "TT").eval()
    image = _image(96, 160)
    exact = Predictor(model, device="cpu").predict(image).alpha
    fast = Predictor(model, device="cpu", precision="bf16").predict(image).alpha
    assert fast.shape == exact.shape and fast.dtype == np.float32
    assert np.abs(fast - exact).mean() < 0.02
    with pytest.raises(InputError, match="precision"):
        Predictor(model, precision="fp16")
