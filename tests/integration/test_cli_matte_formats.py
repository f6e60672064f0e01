"""gfm matte's WebP outputs (marked like PNG and JPEG) and CSS colours, end to end on a real photo."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gfm.cli.main import main
from gfm.io.writers import read_mark

EXAMPLES = Path(__file__).parents[2] / "examples" / "original"


@pytest.fixture(scope="module")
def tiny_model() -> list[str]:
    """The bundled default at a small working size: a real matte (a random tiny network may
    predict no foreground at all), quickly."""
    return ["--max-pixels", "300x200", "--threads", "1", "--guide", "none", "-q", "--foreground", "none"]


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    return Path(shutil.copy(EXAMPLES / "sample2.jpg", folder / "sample2.jpg"))


def test_webp_cutout_is_marked_and_a_rerun_replaces_it(tmp_path: Path, photo: Path, tiny_model: list[str],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "cutout.webp"
    assert main(["matte", str(photo), "-o", str(target), *tiny_model]) == 0
    assert read_mark(target) == "gfm matte"
    with Image.open(target) as cut:
        assert cut.format == "WEBP" and cut.mode == "RGBA"
    # the same command again replaces its own output (it used to refuse it as someone else's file)
    assert main(["matte", str(photo), "-o", str(target), *tiny_model]) == 0
    assert "already exists" not in capsys.readouterr().err
    other = tmp_path / "other.webp"
    Image.new("RGBA", (4, 4)).save(other)
    assert main(["matte", str(photo), "-o", str(other), *tiny_model]) == 1
    assert "other.webp already exists and was not written by gfm matte" in capsys.readouterr().err


def test_folder_run_in_webp_lossy_and_lossless(tmp_path: Path, photo: Path, tiny_model: list[str]) -> None:
    png, lossy, lossless = tmp_path / "png", tmp_path / "lossy", tmp_path / "lossless"
    outputs = ["--outputs", "alpha,cutout,composite,preview", "--background", "purple"]
    assert main(["matte", str(photo.parent), "--out", str(png), *outputs, *tiny_model]) == 0
    assert main(["matte", str(photo.parent), "--out", str(lossy), "--format", "webp", *outputs, *tiny_model]) == 0
    assert main(["matte", str(photo.parent), "--out", str(lossless), "--format", "webp", "--quality", "lossless", *outputs, *tiny_model]) == 0
    assert sorted(p.name for p in lossy.iterdir()) == ["sample2_alpha.png", "sample2_composite.webp", "sample2_cutout.webp", "sample2_preview.jpg"]
    reference = np.asarray(Image.open(png / "sample2_cutout.png"))
    exact = np.asarray(Image.open(lossless / "sample2_cutout.webp"))
    np.testing.assert_array_equal(exact[..., 3], reference[..., 3])
    visible = reference[..., 3] > 0
    assert visible.mean() > 0.05  # a real cutout to compare
    np.testing.assert_array_equal(exact[visible], reference[visible])  # lossless: every visible pixel
    small = np.asarray(Image.open(lossy / "sample2_cutout.webp"))
    np.testing.assert_array_equal(small[..., 3], reference[..., 3])  # lossy WebP keeps the transparency exact
    assert np.abs(small[visible][:, :3].astype(int) - reference[visible][:, :3]).mean() < 4
    assert (lossy / "sample2_cutout.webp").stat().st_size < (png / "sample2_cutout.png").stat().st_size / 2
    composite = np.asarray(Image.open(png / "sample2_composite.png"))
    alpha = np.asarray(Image.open(png / "sample2_alpha.png"))
    np.testing.assert_array_equal(composite[alpha == 0], np.broadcast_to([128, 0, 128], composite[alpha == 0].shape))
    # each format's earlier outputs are recognised: a rerun of the folder mattes the photo again, not its outputs
    assert main(["matte", str(photo.parent), "--out", str(photo.parent), "--format", "webp", *tiny_model]) == 0
    assert main(["matte", str(photo.parent), "--out", str(photo.parent), "--format", "webp", *tiny_model]) == 0
    assert sorted(p.name for p in photo.parent.iterdir()) == ["sample2.jpg", "sample2_alpha.png", "sample2_cutout.webp"]


def test_format_and_quality_refusals(tmp_path: Path, photo: Path, tiny_model: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matte", str(photo), "-o", str(tmp_path / "c.png"), "--format", "webp", *tiny_model]) == 2
    assert "--format webp with -o" in capsys.readouterr().err and not (tmp_path / "c.png").exists()
    with pytest.raises(SystemExit):
        main(["matte", str(photo), "--out", str(tmp_path), "--quality", "101", *tiny_model])
    assert "must be from 1 to 100 (or 'lossless')" in capsys.readouterr().err
    assert main(["matte", str(photo), "--out", str(tmp_path), "--outputs", "composite", "--background", "notacolour", *tiny_model]) == 2
    assert "cannot read colour 'notacolour'" in capsys.readouterr().err
