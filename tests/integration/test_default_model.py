"""The bundled default model (GFM-Lite): selected when no model is named, works
offline, verified at load; the paper's checkpoints are downloaded on first use."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import gfm
from gfm.cli.main import main
from gfm.errors import CheckpointError, ConfigError
from gfm.hub import DEFAULT_WEIGHTS, WeightsEntry, get_weights, import_weights, register_weights, unregister_weights, weights_path
from gfm.hub import cache as hub_cache
from gfm.inference import Predictor
from gfm.inference.models import DEFAULT_MODEL, load_model_spec
from gfm.io import read_alpha, read_image
from gfm.models.normalization import IMAGENET

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_default_is_the_bundled_gfm_lite() -> None:
    entry = get_weights(DEFAULT_WEIGHTS)
    assert DEFAULT_MODEL == DEFAULT_WEIGHTS == "gfm-lite"
    assert entry.bundled and entry.variant == "effl0-TT" and entry.normalization == IMAGENET
    path = weights_path(DEFAULT_WEIGHTS)  # checked against the pinned size and SHA-256
    assert path.parent.name == "weights" and path.parent.parent.name == "gfm"
    assert path.stat().st_size == entry.size_bytes <= 20 * 2**20


def test_load_default_without_network_or_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GFM_HOME", str(tmp_path / "empty-home"))
    monkeypatch.setenv("GFM_WEIGHTS_BASE_URL", "http://127.0.0.1:9/")  # nothing may be fetched
    model = load_model_spec()
    assert model.config.name == "effl0-TT"
    assert model.checkpoint_meta.normalization == IMAGENET
    assert not (tmp_path / "empty-home").exists()


def test_default_predictor_cuts_out_a_real_photo() -> None:
    """The shipped model finds the animal: far better than guessing all background."""
    image = read_image(EXAMPLES / "original" / "sample6.jpg")
    reference = read_alpha(EXAMPLES / "mask" / "sample6.png")
    alpha = Predictor().predict(image).alpha
    assert alpha.shape == reference.shape
    sad = np.abs(alpha - reference).sum() / 1000
    assert sad < 0.35 * reference.sum() / 1000  # all-background has SAD = reference.sum()
    assert ((alpha > 0.5) == (reference > 0.5)).mean() > 0.9


def test_damaged_bundled_file_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = get_weights(DEFAULT_WEIGHTS)
    copy = tmp_path / "weights"
    copy.mkdir()
    monkeypatch.setattr(hub_cache, "bundled_dir", lambda: copy)
    with pytest.raises(CheckpointError, match="bundled file .* is missing.*reinstall gfm"):
        weights_path(DEFAULT_WEIGHTS)
    original = Path(gfm.__file__).resolve().parent / "weights" / entry.package_file
    (copy / entry.package_file).write_bytes(original.read_bytes()[: entry.size_bytes // 2])
    with pytest.raises(CheckpointError, match="has .* bytes, not .* partial copy.*reinstall"):
        load_model_spec()
    tampered = bytearray(original.read_bytes())
    tampered[-100] ^= 0xFF
    (copy / entry.package_file).write_bytes(bytes(tampered))
    with pytest.raises(CheckpointError, match="checksum mismatch.*reinstall"):
        load_model_spec(DEFAULT_WEIGHTS)


def test_bundled_weights_cannot_be_replaced_by_import(tmp_path: Path) -> None:
    path = gfm.save_checkpoint(gfm.create_model("tiny", "TT"), tmp_path / "mine.pth")
    with pytest.raises(ConfigError, match="shipped inside the package"):
        import_weights(path, DEFAULT_WEIGHTS)


def test_matte_without_model_uses_and_names_the_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(EXAMPLES / "original" / "sample2.jpg", photos)
    assert main(["matte", str(photos), "--out", str(tmp_path / "out"), "--outputs", "alpha", "--threads", "1"]) == 0
    assert "model: gfm-lite (effl0-TT), strategy single, precision " in capsys.readouterr().err
    assert read_alpha(tmp_path / "out" / "sample2_alpha.png").shape == read_image(photos / "sample2.jpg").shape[:2]


def test_registered_weights_download_on_first_use(server: Any, gfm_home: Path, tmp_path: Path) -> None:
    checkpoint = gfm.save_checkpoint(gfm.create_model("tiny", "TT"), tmp_path / "tiny.pth")
    entry = WeightsEntry(
        name="test-first-use", backbone="effl0", rosta="TT", normalization=IMAGENET, licence="MIT", source="test",
        urls=(server.url("/tiny.pth"),), file_name="test_first_use.pth", size_bytes=None, sha256=None, training_set="none",
    )
    server.routes["/tiny.pth"] = server.Route(checkpoint.read_bytes())
    register_weights(entry)
    try:
        model = load_model_spec("test-first-use", progress=False)
        assert model.config.backbone == "tiny"
        assert (gfm_home / "weights" / "test_first_use.pth").is_file()
        load_model_spec("test-first-use", progress=False)  # cached now: no second fetch
        assert len(server.hits("/tiny.pth")) == 1
    finally:
        unregister_weights("test-first-use")


def test_paper_checkpoint_offline_gives_the_import_message(gfm_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GFM_WEIGHTS_BASE_URL", "http://127.0.0.1:9/")  # discard port: refused at once
    code = main(["matte", str(EXAMPLES / "original" / "sample2.jpg"), "--out", str(gfm_home / "out"), "--model", "gfm-r34-tt", "-q"])
    assert code == 2
    err = capsys.readouterr().err
    assert "gfm weights import FILE --name gfm-r34-tt" in err and "drive.google.com" in err
    assert not (gfm_home / "out").exists() or not any((gfm_home / "out").iterdir())
