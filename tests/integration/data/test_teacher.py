"""``gfm prepare teacher``: masks of real photos from an ONNX segmentation model."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from gfm.cli.main import main
from gfm.errors import ConfigError
from gfm.io import read_alpha, read_image

pytest.importorskip("onnxruntime", reason='teacher labels need onnxruntime (pip install "gfm-matting[teacher]")')
pytest.importorskip("onnx", reason="writing the test's ONNX model needs the onnx package (dev extra)")


class _Brightness(torch.nn.Module):
    """A stand-in teacher: 'salient' = bright, as a sharp sigmoid of the mean channel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x.mean(1, keepdim=True) * 40.0)


@pytest.fixture(scope="module")
def teacher_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("teacher") / "bright.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter needs no onnxscript
        torch.onnx.export(_Brightness(), torch.zeros(1, 3, 64, 64), str(path), dynamo=False,
                          input_names=["input"], output_names=["output"])
    return path


def _photos(folder: Path) -> Path:
    folder.mkdir(parents=True)
    image = np.zeros((90, 120, 3), np.uint8)
    image[20:70, 30:90] = 230  # a bright square on black
    from gfm.io import write_image

    write_image(folder / "square.png", image)
    write_image(folder / "flat.jpg", np.full((50, 40, 3), 10, np.uint8))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return folder


def test_teacher_labels_a_folder_and_resumes(tmp_path: Path, teacher_onnx: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photos, out = _photos(tmp_path / "photos"), tmp_path / "masks"
    args = ["prepare", "teacher", str(photos), str(out), "--model", str(teacher_onnx), "--size", "64", "--no-progress"]
    assert main(args) == 1  # one unreadable photo: reported, the others done
    captured = capsys.readouterr()
    assert "broken.jpg" in captured.out and "2 masks written" in captured.err
    mask = read_alpha(out / "square.png")
    assert mask.shape == (90, 120)  # back at the photo's size
    assert mask[45, 60] > 0.9 and mask[5, 5] < 0.1
    assert read_alpha(out / "flat.png").max() < 0.5
    assert not (out / "broken.png").exists()
    # A re-run keeps what is done.
    (photos / "broken.jpg").unlink()
    before = (out / "square.png").stat().st_mtime_ns
    assert main(args) == 0
    assert "0 masks written, 2 already there" in capsys.readouterr().err
    assert (out / "square.png").stat().st_mtime_ns == before


def test_teacher_masks_pair_with_photos_for_evaluation(tmp_path: Path, teacher_onnx: Path) -> None:
    """The output folder is an alpha folder: ``gfm evaluate --pred`` reads it against references."""
    photos = _photos(tmp_path / "data" / "original")
    (photos / "broken.jpg").unlink()
    assert main(["prepare", "teacher", str(photos), str(tmp_path / "data" / "mask"), "--model", str(teacher_onnx), "--size", "64", "--no-progress"]) == 0
    shutil.copytree(tmp_path / "data" / "mask", tmp_path / "pred")
    assert main(["evaluate", "--pred", str(tmp_path / "pred"), "--data", str(tmp_path / "data"), "--out", str(tmp_path / "eval")]) == 0
    assert (tmp_path / "eval" / "summary.json").is_file()


def test_teacher_errors(tmp_path: Path, teacher_onnx: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gfm.data.teacher import OnnxTeacher

    with pytest.raises(ConfigError, match="no such teacher model file"):
        OnnxTeacher(tmp_path / "missing.onnx")
    bogus = tmp_path / "bogus.onnx"
    bogus.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="cannot load this file as a model"):
        OnnxTeacher(bogus)
    assert main(["prepare", "teacher", str(_photos(tmp_path / "p")), str(tmp_path / "o"), "--model", str(teacher_onnx), "--mean", "0.1", "0.2"]) == 2
    assert "--mean takes one value or three" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    teacher = OnnxTeacher(teacher_onnx, size=64)
    assert teacher.predict(read_image(tmp_path / "p" / "square.png")).dtype == np.float32


class _TwoMasks(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x[:, :1], x[:, 1:2]], 1)


def test_a_faulty_teacher_model_is_named_not_blamed_on_the_photos(tmp_path: Path, teacher_onnx: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A model of another input size, or with two output channels, ended in a Python traceback."""
    from gfm.data.teacher import OnnxTeacher

    fixed = OnnxTeacher(teacher_onnx, size=128)  # the file fixes 64x64: that size is used (gfm.segmentation)
    assert fixed.input_size == (64, 64) and fixed.predict(np.zeros((40, 50, 3), np.uint8)).shape == (40, 50)
    two = tmp_path / "two.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(_TwoMasks(), torch.zeros(1, 3, 64, 64), str(two), dynamo=False, input_names=["input"], output_names=["output"])
    photos = _photos(tmp_path / "p")
    assert main(["prepare", "teacher", str(photos), str(tmp_path / "o"), "--model", str(two), "--size", "64", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "two.onnx: not a segmentation model: its output output has shape [1, 2, 64, 64], a mask needs (1, 1, H, W)" in err
    assert not list((tmp_path / "o").glob("*.png"))
