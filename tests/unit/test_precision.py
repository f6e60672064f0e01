"""--precision auto and the per-weights defaults (strategy, bf16) that the measurements chose."""

from __future__ import annotations

import pytest
import torch

import gfm
from gfm.errors import InputError
from gfm.hub import get_weights
from gfm.inference import Predictor
from gfm.inference import precision as precision_module
from gfm.inference.models import load_model_spec
from gfm.inference.precision import UNMEASURED, InferenceDefaults, inference_defaults, resolve_precision

CPU = torch.device("cpu")


@pytest.fixture
def native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision_module, "cpu_has_native_bf16", lambda: True)


@pytest.fixture
def no_native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision_module, "cpu_has_native_bf16", lambda: False)


def measured_model(auto_bf16: bool) -> torch.nn.Module:
    model = gfm.create_model("tiny", "TT")
    model.inference_defaults = InferenceDefaults(strategy="single", auto_bf16=auto_bf16)
    return model


def test_explicit_precisions_are_kept_whatever_the_machine(no_native_bf16: None) -> None:
    model = measured_model(auto_bf16=False)
    assert resolve_precision("fp32", CPU, [model]) == "fp32"
    assert resolve_precision("bf16", CPU, [model]) == "bf16"


def test_auto_is_bf16_only_for_measured_weights_on_a_cpu_with_native_bf16(native_bf16: None) -> None:
    assert resolve_precision("auto", CPU, [measured_model(auto_bf16=True)]) == "bf16"
    assert resolve_precision("auto", CPU, [measured_model(auto_bf16=False)]) == "fp32"
    assert resolve_precision("auto", CPU, [gfm.create_model("tiny", "TT")]) == "fp32"  # unmeasured
    assert resolve_precision("auto", CPU, [measured_model(True), gfm.create_model("tiny", "TT")]) == "fp32"


def test_auto_is_fp32_without_native_bf16_and_on_cuda(no_native_bf16: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_precision("auto", CPU, [measured_model(auto_bf16=True)]) == "fp32"
    monkeypatch.setattr(precision_module, "cpu_has_native_bf16", lambda: True)
    assert resolve_precision("auto", torch.device("cuda"), [measured_model(auto_bf16=True)]) == "fp32"


def test_an_unknown_precision_is_refused() -> None:
    with pytest.raises(InputError, match="auto, fp32, bf16"):
        resolve_precision("fp16", CPU, [measured_model(True)])
    with pytest.raises(InputError, match="precision"):
        Predictor(gfm.create_model("tiny", "TT"), device="cpu", precision="int8")


def test_the_bundled_default_carries_its_measured_defaults(native_bf16: None) -> None:
    entry = get_weights("gfm-lite")
    model = load_model_spec()
    assert inference_defaults(model) == InferenceDefaults(strategy=entry.strategy, auto_bf16=entry.auto_bf16,
                                                          guided_strategy=entry.guided_strategy)
    assert (entry.strategy, entry.auto_bf16, entry.guided_strategy) == ("single", True, "guided")
    predictor = Predictor(model, device="cpu")
    assert (predictor.strategy.name, predictor.precision) == ("single", "bf16")
    explicit = Predictor(model, "hybrid", device="cpu", precision="fp32")
    assert (explicit.strategy.name, explicit.precision) == ("hybrid", "fp32")


def test_files_and_released_weights_keep_the_papers_defaults(native_bf16: None, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = gfm.save_checkpoint(gfm.create_model("tiny", "TT"), tmp_path / "mine.pth")
    model = load_model_spec(path)
    assert inference_defaults(model) == UNMEASURED
    predictor = Predictor(model, device="cpu")
    assert (predictor.strategy.name, predictor.precision) == ("hybrid", "fp32")
    assert (get_weights("gfm-r34-tt").strategy, get_weights("gfm-r34-tt").auto_bf16) == ("hybrid", False)

