"""The short library path: gfm.remove, Predictor.from_name, MattingResult.cutout."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import gfm
from gfm.errors import ConfigError, InputError
from gfm.inference import MattingResult, Predictor
from gfm.inference.remove import clear_loaded_models

PHOTO = Path(__file__).parents[2] / "examples" / "original" / "sample2.jpg"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return gfm.save_checkpoint(gfm.create_model("tiny", "TT"), tmp_path_factory.mktemp("w") / "tiny.pth")


def test_remove_returns_the_input_kind(tiny: Path) -> None:
    rgb = np.asarray(Image.open(PHOTO).convert("RGB"))
    from_array = gfm.remove(rgb, tiny, foreground="none")
    assert from_array.dtype == np.uint8 and from_array.shape == (*rgb.shape[:2], 4)
    from_path = gfm.remove(PHOTO, tiny, foreground="none")
    assert isinstance(from_path, Image.Image) and from_path.mode == "RGBA" and from_path.size == (rgb.shape[1], rgb.shape[0])
    np.testing.assert_array_equal(np.asarray(from_path), from_array)
    with Image.open(PHOTO) as opened:
        np.testing.assert_array_equal(np.asarray(gfm.remove(opened, tiny, foreground="none")), from_array)
    png = gfm.remove(PHOTO.read_bytes(), tiny, foreground="none")
    with Image.open(io.BytesIO(png)) as decoded:
        np.testing.assert_array_equal(np.asarray(decoded), from_array)
    # the cutout's transparency is the predicted alpha; fully transparent pixels are black
    alpha = Predictor.from_name(tiny).predict(rgb).alpha
    np.testing.assert_array_equal(from_array[..., 3], np.clip(np.rint(alpha * 255), 0, 255).astype(np.uint8))
    assert not from_array[from_array[..., 3] == 0, :3].any()
    clear_loaded_models()


def test_default_model_and_unknown_names(monkeypatch: pytest.MonkeyPatch, tiny: Path, tmp_path: Path) -> None:
    from gfm.inference import models

    monkeypatch.setenv("GFM_HOME", str(tmp_path))  # an empty cache: the default is shipped in the package
    assert models.default_model_name() == "gfm-lite"
    assert Predictor.from_name().models[0].config.name == "effl0-TT"
    with pytest.raises(ConfigError, match="unknown weights 'no-such-model'"):
        Predictor.from_name("no-such-model")
    monkeypatch.setattr(models, "default_model_name", lambda: str(tiny))  # every "no model" path asks this one function
    assert Predictor.from_name().models[0].config.name == "tiny-TT"
    assert gfm.remove(np.zeros((40, 48, 3), np.uint8)).shape == (40, 48, 4)
    clear_loaded_models()


def test_predict_accepts_gray_and_rgba_arrays_and_result_cutout(tiny: Path) -> None:
    predictor = Predictor.from_name(tiny)
    gray = np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (48, 1))
    a = predictor.predict(gray).alpha
    b = predictor.predict(np.repeat(gray[..., None], 3, axis=2)).alpha
    np.testing.assert_array_equal(a, b)
    rgba = np.dstack([np.repeat(gray[..., None], 3, axis=2), np.zeros_like(gray)])
    np.testing.assert_array_equal(predictor.predict(rgba).alpha, b)
    result = predictor.predict(gray)
    assert result.cutout("none").shape == (48, 64, 4) and result.foreground("none").shape == (48, 64, 3)
    with pytest.raises(InputError, match="holds no image"):
        MattingResult(a).cutout()
    with pytest.raises(InputError, match="uint8"):
        predictor.predict(np.zeros((8, 8, 3), np.float32))


def test_decode_image_names_what_it_read() -> None:
    from gfm.io import decode_image

    assert decode_image(PHOTO.read_bytes()).shape == (1200, 800, 3)
    with pytest.raises(InputError, match="<stdin>: no data"):
        decode_image(b"")
    with pytest.raises(InputError, match="<stdin>: not an image file"):
        decode_image(b"garbage")
