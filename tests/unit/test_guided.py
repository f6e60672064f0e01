"""Guided matting: hints override the glance classes, from cached network outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gfm
from gfm.errors import InputError
from gfm.inference import GuidedPredictor, Predictor
from gfm.io.hints import Hint


def _image(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # smooth blobs rather than noise: a random tiny model then predicts every glance class
    small = rng.integers(0, 256, (height // 16 + 1, width // 16 + 1, 3)).astype(np.uint8)
    import cv2

    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def _with_every_glance_class(model: gfm.GFM) -> gfm.GFM:
    """Bias the glance logits of a random model so that its classes vary across the
    image (background left, transition in the middle, foreground right) while still
    depending on the image: a random tiny model alone often predicts one class."""
    predict_glance = model.predict_glance

    def biased(features: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        out = predict_glance(features)
        for head, logits in out.items():
            width = logits.shape[-1]
            ramp = torch.linspace(-1.0, 1.0, width, device=logits.device)
            scale = 4.0 * logits.std() + 1.0
            bias = torch.stack([-ramp, 1.0 - 2.0 * ramp.abs(), ramp])[: logits.shape[1]] if head == "TT" else torch.stack([-ramp, ramp])
            out[head] = logits + scale * bias[None, :, None, :]
        return out

    model.predict_glance = biased  # type: ignore[method-assign]
    return model


def _guided(rosta: str = "TT", strategy: str = "hybrid", seed: int = 0, backbone: str = "tiny") -> GuidedPredictor:
    torch.manual_seed(seed)
    predictor = Predictor(gfm.create_model(backbone, rosta), strategy=strategy, device="cpu")
    for model in predictor.models:
        _with_every_glance_class(model)
    return GuidedPredictor(predictor)


@pytest.mark.parametrize(("rosta", "strategy"), [("TT", "hybrid"), ("TT", "single"), ("FT", "hybrid"), ("BT", "resize"), ("RIM", "hybrid")])
def test_no_hint_equals_the_predictor_exactly(rosta: str, strategy: str) -> None:
    guided = _guided(rosta, strategy)
    image = _image(240, 320)
    expected = guided.predictor.predict(image, trimap=True)
    result = guided.predict(image)
    np.testing.assert_array_equal(result.alpha, expected.alpha)
    np.testing.assert_array_equal(result.trimap, expected.trimap)
    # an all-unknown hint map is no hint
    all_unknown = guided.fuse(guided.analyse(image), np.zeros((240, 320), np.uint8))
    np.testing.assert_array_equal(all_unknown.alpha, expected.alpha)


@pytest.mark.parametrize("backbone", ["tiny", "effl0"])  # effl0: the default model's (GFM-Lite) encoder
def test_no_hint_equals_the_sparse_focus_predictor(backbone: str) -> None:
    """The predictor runs the focus heads only in the glance transition area on CPU;
    the guided path runs them everywhere, and the fused alphas are identical."""
    guided = _guided("TT", backbone=backbone)
    assert guided.predictor.sparse_focus
    image = _image(300, 400, seed=3)
    expected = guided.predictor.predict(image, trimap=True)
    assert {0, 128, 255} <= set(np.unique(expected.trimap))  # a real mix of classes, not a trivial map
    np.testing.assert_array_equal(guided.predict(image).alpha, expected.alpha)


def test_an_ensemble_without_hints_equals_the_predictor() -> None:
    torch.manual_seed(1)
    predictor = Predictor([gfm.create_model("tiny", r) for r in ("TT", "FT", "BT")], device="cpu")
    image = _image(128, 160)
    np.testing.assert_array_equal(GuidedPredictor(predictor).predict(image).alpha, predictor.predict(image).alpha)


@pytest.mark.parametrize("rosta", ["TT", "FT", "BT", "RIM"])
def test_everything_foreground_gives_alpha_one_and_background_zero(rosta: str) -> None:
    guided = _guided(rosta)
    maps = guided.analyse(_image(96, 128))
    foreground = guided.fuse(maps, np.full((96, 128), Hint.FOREGROUND, np.uint8))
    np.testing.assert_array_equal(foreground.alpha, 1.0)
    assert (foreground.trimap == 255).all()
    background = guided.fuse(maps, np.full((96, 128), Hint.BACKGROUND, np.uint8))
    np.testing.assert_array_equal(background.alpha, 0.0)
    assert (background.trimap == 0).all()


@pytest.mark.parametrize(("rosta", "expected"), [("TT", lambda f: f), ("FT", lambda f: f), ("BT", lambda f: 1.0 - f)])
def test_a_transition_hint_takes_the_focus_alpha(rosta: str, expected) -> None:
    guided = _guided(rosta)
    maps = guided.analyse(_image(96, 128))
    focus = maps.models[0][rosta].focus
    result = guided.fuse(maps, np.full((96, 128), Hint.TRANSITION, np.uint8))
    np.testing.assert_allclose(result.alpha, np.clip(expected(focus), 0, 1), atol=1e-7)
    assert (result.trimap == 128).all()


def test_a_partial_hint_changes_only_the_hinted_pixels() -> None:
    guided = _guided("TT")
    image = _image(120, 160, seed=5)
    maps = guided.analyse(image)
    plain = guided.fuse(maps)
    hints = np.zeros((120, 160), np.uint8)
    hints[10:40, 20:60] = Hint.FOREGROUND
    hints[60:90, 100:140] = Hint.TRANSITION
    hints[100:110, :] = Hint.BACKGROUND
    result = guided.fuse(maps, hints)
    unknown = hints == Hint.UNKNOWN
    np.testing.assert_array_equal(result.alpha[unknown], plain.alpha[unknown])
    np.testing.assert_array_equal(result.alpha[hints == Hint.FOREGROUND], 1.0)
    np.testing.assert_array_equal(result.alpha[hints == Hint.BACKGROUND], 0.0)
    transition = hints == Hint.TRANSITION
    np.testing.assert_array_equal(result.alpha[transition], maps.models[0]["TT"].focus[transition])
    assert result.trimap[15, 30] == 255 and result.trimap[70, 120] == 128 and result.trimap[105, 5] == 0


def test_a_correction_does_not_run_the_network() -> None:
    guided = _guided("RIM")
    maps = guided.analyse(_image(96, 128))
    model = guided.predictor.models[0]

    def refuse(*args, **kwargs):
        raise AssertionError("the network ran during a correction")

    model.encode = refuse  # type: ignore[method-assign]
    model.predict_glance = refuse  # type: ignore[method-assign]
    model.predict_focus = refuse  # type: ignore[method-assign]
    hints = np.zeros((96, 128), np.uint8)
    hints[:, :40] = Hint.FOREGROUND
    assert (guided.fuse(maps, hints).alpha[:, :40] == 1.0).all()


def test_maps_report_their_memory() -> None:
    guided = _guided("RIM")
    maps = guided.analyse(_image(64, 80))
    assert maps.size == (64, 80)
    assert maps.nbytes == 3 * 64 * 80 * 5  # three heads, uint8 glance + float32 focus


def test_bad_hint_maps_are_refused() -> None:
    guided = _guided("TT")
    maps = guided.analyse(_image(64, 80))
    with pytest.raises(InputError, match="80x64"):
        guided.fuse(maps, np.zeros((64, 81), np.uint8))
    with pytest.raises(InputError, match="codes 0..3"):
        guided.fuse(maps, np.full((64, 80), 7, np.uint8))
    with pytest.raises(InputError, match="codes 0..3"):
        guided.fuse(maps, np.zeros((64, 80), np.float32))
