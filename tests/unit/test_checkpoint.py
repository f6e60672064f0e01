"""Checkpoint reading, writing and refusal of bad files."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

import pytest
import torch

import gfm
from gfm.cli.main import main
from gfm.errors import CheckpointError
from gfm.models.checkpoint_files import read_checkpoint
from gfm.models.encoders.densenet import upgrade_densenet_keys
from gfm.models.normalization import IMAGENET


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_own_format_round_trip(tmp_path: Path) -> None:
    model = gfm.create_model("tiny", "RIM", ppm="single")
    path = gfm.save_checkpoint(model, tmp_path / "tiny.pth", normalization=IMAGENET, provenance={"run": "unit"})
    loaded = gfm.load_model(path)
    assert loaded.config == model.config
    assert loaded.checkpoint_meta.normalization == IMAGENET
    assert loaded.checkpoint_meta.provenance == {"run": "unit"}
    assert not loaded.training
    assert _same_weights(model, loaded)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_load_model_takes_every_tensor_from_the_file(tmp_path: Path) -> None:
    """load_model builds on the meta device: nothing may stay there, half-precision
    files come back in float32, and tensors shared between names are unshared."""
    model = gfm.create_model("tiny", "TT").eval()
    payload = torch.load(gfm.save_checkpoint(model, tmp_path / "tiny.pth"), weights_only=True)
    payload["state_dict"] = {k: v.half() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
    conv = "focus.heads.TT.0.weight"
    twin = next(k for k in payload["state_dict"] if k != conv and payload["state_dict"][k].shape == payload["state_dict"][conv].shape)
    payload["state_dict"][twin] = payload["state_dict"][conv]  # one tensor under two names
    torch.save(payload, tmp_path / "half.pth")

    loaded = gfm.load_model(tmp_path / "half.pth")
    tensors = list(loaded.parameters()) + list(loaded.buffers())
    assert not any(t.is_meta for t in tensors)
    assert {t.dtype for t in loaded.parameters()} == {torch.float32}
    x = torch.rand(1, 3, 64, 64) * 255
    reference = gfm.create_model("tiny", "TT").eval()
    gfm.load_weights(reference, tmp_path / "half.pth")  # copies into a real model
    with torch.no_grad():
        torch.testing.assert_close(loaded(x).fusion, reference(x).fusion)
    state = loaded.state_dict()
    assert state[twin].data_ptr() != state[conv].data_ptr()
    with torch.no_grad():
        state[twin].add_(1.0)
    torch.testing.assert_close(state[conv], payload["state_dict"][conv].float())


def test_own_format_wrong_variant(tmp_path: Path) -> None:
    path = gfm.save_checkpoint(gfm.create_model("tiny", "FT"), tmp_path / "ft.pth")
    with pytest.raises(CheckpointError, match="the checkpoint is tiny-FT.*rosta='FT'"):
        gfm.load_weights(gfm.create_model("tiny", "TT"), path)


def test_module_prefix_and_plain_state_dict(tmp_path: Path) -> None:
    model = gfm.create_model("tiny", "TT")
    target = gfm.create_model("tiny", "TT")
    state = {"module." + k: v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state}, tmp_path / "ddp.pth")
    gfm.load_weights(target, tmp_path / "ddp.pth")
    assert _same_weights(model, target)


def test_zip_archive_holding_checkpoint(tmp_path: Path) -> None:
    model = gfm.create_model("tiny", "TT")
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    with zipfile.ZipFile(tmp_path / "weights.zip", "w") as archive:
        archive.writestr("GFM/model_tiny.pth", buffer.getvalue())
        archive.writestr("GFM/README.txt", "hello")
    target = gfm.create_model("tiny", "TT")
    gfm.load_weights(target, tmp_path / "weights.zip")
    assert _same_weights(model, target)


def test_zip_members_are_streamed_and_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A small zip that inflates to a huge member is refused without being read into memory."""
    import tracemalloc

    import gfm.models.checkpoint_files as checkpoint_files

    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model.pth", bytes(64 << 20))  # 64 MB of zeros, 64 KB packed
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
            read_checkpoint(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20  # (it was read whole, then copied: 128 MB)
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(forged, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model.pth", b"PK\x03\x04" + bytes(4 << 20))  # starts like a torch file, then inflates
    monkeypatch.setattr(checkpoint_files, "MAX_ARCHIVED_CHECKPOINT_BYTES", 1 << 20)
    with pytest.raises(CheckpointError, match="larger than any GFM checkpoint"):
        read_checkpoint(forged)


def test_missing_and_extra_keys_are_named(tmp_path: Path) -> None:
    state = gfm.create_model("tiny", "TT").state_dict()
    del state["focus.bridge.0.weight"]
    state["something.else"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r"1 missing \(focus.bridge.0.weight\).*1 unexpected \(something.else\)"):
        gfm.load_weights(gfm.create_model("tiny", "TT"), state)


class _Exploit:
    def __reduce__(self):  # noqa: D105 - runs os.system on unpickling, if anything unpickles it
        return (os.system, (f"touch {self.marker}",))


def test_pickled_code_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    exploit = _Exploit()
    exploit.marker = marker  # type: ignore[attr-defined]
    path = tmp_path / "evil.pth"
    with path.open("wb") as f:
        pickle.dump({"state_dict": exploit}, f)
    with pytest.raises(CheckpointError):
        read_checkpoint(path)
    torch.save({"weights": torch.zeros(2), "payload": exploit}, tmp_path / "evil_zip.pth")
    marker.unlink(missing_ok=True)
    with pytest.raises(CheckpointError, match="refuses to load"):
        read_checkpoint(tmp_path / "evil_zip.pth")
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"this is not a checkpoint", "truncated"])
def test_unreadable_files(tmp_path: Path, content: bytes | str) -> None:
    path = tmp_path / "bad.pth"
    if content == "truncated":
        torch.save(gfm.create_model("tiny", "TT").state_dict(), path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.write_bytes(content)  # type: ignore[arg-type]
    with pytest.raises(CheckpointError, match=str(path)):
        gfm.load_weights(gfm.create_model("tiny", "TT"), path)


def test_missing_file() -> None:
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        gfm.load_model("/nonexistent/gfm.pth")


def test_backbone_weights_from_torchvision_resnet(tmp_path: Path) -> None:
    source = gfm.create_model("r34", "TT").encoder.state_dict()
    source["fc.weight"], source["fc.bias"] = torch.zeros(1000, 512), torch.zeros(1000)
    torch.save(source, tmp_path / "resnet34.pth")
    model = gfm.create_model("r34", "TT", backbone_weights=tmp_path / "resnet34.pth")
    assert all(torch.equal(model.encoder.state_dict()[k], v) for k, v in source.items() if not k.startswith("fc."))
    # r2b takes layer1..4 from the same file; its stem and extra stages stay random
    r2b = gfm.create_model("r34_2b", "TT", backbone_weights=tmp_path / "resnet34.pth")
    assert torch.equal(r2b.encoder.layer3[0].conv1.weight, source["layer3.0.conv1.weight"])
    with pytest.raises(CheckpointError, match="resnet34.pth.*another architecture|resnet34.pth.*lacks"):
        gfm.create_model("r101", "TT", backbone_weights=tmp_path / "resnet34.pth")


def test_backbone_weights_from_old_style_densenet(tmp_path: Path) -> None:
    source = gfm.create_model("d121", "TT").encoder.features.state_dict()
    old = {}
    for key, value in source.items():  # torchvision < 0.4 names: norm.1, conv.2 ...
        for new, legacy in (("norm1", "norm.1"), ("norm2", "norm.2"), ("conv1", "conv.1"), ("conv2", "conv.2")):
            if f".{new}." in key and "denselayer" in key:
                key = key.replace(f".{new}.", f".{legacy}.")
        old["features." + key] = value
    old["classifier.weight"] = torch.zeros(1000, 1024)
    assert upgrade_densenet_keys(old).keys() >= {"features." + k for k in source}
    torch.save(old, tmp_path / "densenet121.pth")
    model = gfm.create_model("d121", "TT", backbone_weights=tmp_path / "densenet121.pth")
    assert all(torch.equal(model.encoder.features.state_dict()[k], v) for k, v in source.items())


def test_cli_convert_and_models(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = gfm.create_model("tiny", "TT")
    torch.save(model.state_dict(), tmp_path / "plain.pth")
    # a bare state dict in our layout: the variant from its keys, as for released files
    assert main(["convert", str(tmp_path / "plain.pth"), str(tmp_path / "out.pth"), "--normalization", "imagenet"]) == 0
    assert "tiny-TT, input imagenet" in capsys.readouterr().out
    converted = gfm.load_model(tmp_path / "out.pth")
    assert converted.checkpoint_meta.normalization.name == "imagenet"
    assert converted.checkpoint_meta.provenance["source"] == "state_dict file"
    assert main(["models", "--json", "--tiny"]) == 0
    assert '"tiny-TT"' in capsys.readouterr().out


def test_convert_never_replaces_an_output_that_appeared_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import gfm.models.checkpoint as checkpoint

    source = gfm.save_checkpoint(gfm.create_model("tiny", "TT"), tmp_path / "source.pth")
    output = tmp_path / "out.pth"
    real = checkpoint.load_model

    def load_while_another_convert_writes(*args: object, **kwargs: object) -> object:
        output.write_bytes(b"the other run's file")
        return real(*args, **kwargs)

    monkeypatch.setattr(checkpoint, "load_model", load_while_another_convert_writes)
    assert main(["convert", str(source), str(output)]) == 2
    assert "out.pth: a file appeared there while this run worked" in capsys.readouterr().err
    assert output.read_bytes() == b"the other run's file"
    assert main(["convert", str(source), str(output), "--overwrite"]) == 0


def test_one_rule_for_bare_state_dicts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """torch.save(model.state_dict()) loads wherever a checkpoint is taken, when its keys tell the variant."""
    from gfm.inference.models import load_model_spec

    source = gfm.create_model("tiny", "FT")
    torch.save(source.state_dict(), tmp_path / "plain.pth")
    with pytest.warns(UserWarning, match="carries no input normalisation; assuming raw 0..255"):
        model = gfm.load_model(tmp_path / "plain.pth")
    assert model.config.name == "tiny-FT" and model.checkpoint_meta.source == "state_dict"
    assert all(torch.equal(model.state_dict()[k], v) for k, v in source.state_dict().items())
    with pytest.warns(UserWarning):
        assert load_model_spec(str(tmp_path / "plain.pth")).config.name == "tiny-FT"
    photo = Path(__file__).parents[2] / "examples" / "original" / "sample2.jpg"
    with pytest.warns(UserWarning, match="no input normalisation"):  # the command line shows the same warning
        assert main(["matte", str(photo), "--out", str(tmp_path / "out"), "--model", str(tmp_path / "plain.pth"), "--outputs", "alpha", "-q"]) == 0
    assert (tmp_path / "out" / "sample2_alpha.png").is_file()
    # keys that tell no variant: the message says exactly what to call
    torch.save({"weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match=r"variant its keys do not tell.*gfm.create_model\(BACKBONE, ROSTA\).*gfm.load_weights"):
        gfm.load_model(tmp_path / "other.pth")
    # an ablation (no bridge) is recognised as tiny-TT but does not fit the default options
    torch.save(gfm.create_model("tiny", "TT", single_decoder=True).state_dict(), tmp_path / "ablation.pth")
    with pytest.raises(CheckpointError, match="not with the default options"):
        gfm.load_model(tmp_path / "ablation.pth")
