"""`gfm matte` end to end on real photos (examples/, AM-2k demo images)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import gfm
from gfm.cli.main import main
from gfm.inference.models import load_model_spec

EXAMPLES = Path(__file__).parents[2] / "examples" / "original"


@pytest.fixture(scope="module")
def tiny_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("weights")
    return {r: gfm.save_checkpoint(gfm.create_model("tiny", r), folder / f"tiny_{r.lower()}.pth") for r in ("TT", "FT", "BT", "RIM")}


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(EXAMPLES / "sample2.jpg", folder / "sample2.jpg")
    shutil.copy(EXAMPLES / "sample6.jpg", folder / "sub" / "sample6.jpg")
    return folder


def _size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


def test_default_outputs_alpha_and_cutout(tmp_path: Path, photos: Path, tiny_checkpoints: dict[str, Path]) -> None:
    out = tmp_path / "out"
    code = main(["matte", str(photos / "sample2.jpg"), "--out", str(out), "--model", str(tiny_checkpoints["TT"]), "-q"])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["sample2_alpha.png", "sample2_cutout.png"]
    with Image.open(photos / "sample2.jpg") as source, Image.open(out / "sample2_alpha.png") as alpha, Image.open(out / "sample2_cutout.png") as cut:
        assert alpha.size == cut.size == source.size
        assert alpha.mode == "L" and cut.mode == "RGBA"
        # the cutout's transparency is the alpha matte
        np.testing.assert_array_equal(np.asarray(cut)[..., 3], np.asarray(alpha))


@pytest.mark.parametrize("strategy", ["hybrid", "single", "resize"])
def test_every_output_and_strategy(tmp_path: Path, photos: Path, tiny_checkpoints: dict[str, Path], strategy: str) -> None:
    out = tmp_path / "out"
    args = ["matte", str(photos), "-r", "--out", str(out), "--model", str(tiny_checkpoints["TT"]), "--strategy", strategy]
    args += ["--outputs", "alpha,cutout,foreground,composite,trimap,preview", "--foreground", "none", "--background", "#00b140", "-q"]
    assert main(args) == 0
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    kinds = ["alpha.png", "composite.png", "cutout.png", "foreground.png", "preview.jpg", "trimap.png"]
    assert names == [f"sample2_{k}" for k in kinds] + [f"sub/sample6_{k}" for k in kinds]
    size = _size(photos / "sub" / "sample6.jpg")
    for kind in ("alpha.png", "composite.png", "cutout.png", "foreground.png", "trimap.png"):
        assert _size(out / "sub" / f"sample6_{kind}") == size
    trimap = np.asarray(Image.open(out / "sample2_trimap.png"))
    assert set(np.unique(trimap)) <= {0, 128, 255}
    # composite = alpha * F + (1 - alpha) * green, with F = the photo for --foreground none
    alpha = np.asarray(Image.open(out / "sample2_alpha.png")).astype(np.float32)[..., None] / 255
    photo = np.asarray(Image.open(photos / "sample2.jpg")).astype(np.float32)
    expected = alpha * photo + (1 - alpha) * np.array([0, 177, 64], np.float32)
    assert np.abs(np.asarray(Image.open(out / "sample2_composite.png")).astype(np.float32) - expected).max() <= 1.0
    width, height = _size(photos / "sample2.jpg")
    preview_width, preview_height = _size(out / "sample2_preview.jpg")
    assert preview_width == pytest.approx(3 * width * preview_height / height, abs=3)  # three panels side by side


def test_estimated_foreground_and_background_image(tmp_path: Path, photos: Path, tiny_checkpoints: dict[str, Path]) -> None:
    out = tmp_path / "out"
    background = EXAMPLES / "sample10.jpg"
    args = ["matte", str(photos / "sample2.jpg"), "--out", str(out), "--model", str(tiny_checkpoints["FT"])]
    assert main(args + ["--outputs", "foreground,composite", "--background", str(background), "-q"]) == 0
    foreground = np.asarray(Image.open(out / "sample2_foreground.png"))
    assert foreground.shape[:2] == np.asarray(Image.open(photos / "sample2.jpg")).shape[:2]


def test_blur_fusion_cutout_without_pymatting(tmp_path: Path, photos: Path, tiny_checkpoints: dict[str, Path]) -> None:
    """--foreground blur: the photo's own colours where the alpha is 255, the alpha
    as transparency; pymatting (numba, about half a second) is never imported."""
    import subprocess
    import sys

    out = tmp_path / "out"
    args = ["matte", str(photos / "sample2.jpg"), "--out", str(out), "--model", str(tiny_checkpoints["TT"]),
            "--foreground", "blur", "--outputs", "alpha,cutout", "-q"]
    code = f"import sys\nfrom gfm.cli.main import main\nassert main({args!r}) == 0\nprint(sorted(m for m in ('pymatting', 'numba') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr
    cut = np.asarray(Image.open(out / "sample2_cutout.png"))
    alpha = np.asarray(Image.open(out / "sample2_alpha.png"))
    photo = np.asarray(Image.open(photos / "sample2.jpg").convert("RGB"))
    np.testing.assert_array_equal(cut[..., 3], alpha)
    np.testing.assert_array_equal(cut[alpha == 255, :3], photo[alpha == 255])


def test_ensemble_rim_and_16_bit(tmp_path: Path, photos: Path, tiny_checkpoints: dict[str, Path]) -> None:
    out = tmp_path / "out"
    models = [arg for r in ("TT", "FT", "BT") for arg in ("--model", str(tiny_checkpoints[r]))]
    assert main(["matte", str(photos / "sample2.jpg"), "--out", str(out), "--strategy", "ensemble", *models, "--outputs", "alpha", "-q"]) == 0
    assert main(["matte", str(photos / "sample2.jpg"), "--out", str(out / "rim"), "--model", str(tiny_checkpoints["RIM"]), "--outputs", "alpha", "--alpha-bits", "16", "-q"]) == 0
    with Image.open(out / "rim" / "sample2_alpha.png") as alpha:
        assert alpha.mode == "I;16"


def test_globs_exif_and_tiny_images(tmp_path: Path, photos: Path, tiny_checkpoints: dict[str, Path]) -> None:
    rotated = tmp_path / "in" / "rotated.jpg"
    rotated.parent.mkdir()
    with Image.open(photos / "sample2.jpg") as image:
        exif = image.getexif()
        exif[0x0112] = 6  # stored landscape, displayed rotated 90 degrees
        image.save(rotated, exif=exif)
        stored = image.size
    Image.new("RGB", (1, 1), (200, 10, 10)).save(tmp_path / "in" / "dot.png")
    out = tmp_path / "out"
    assert main(["matte", str(tmp_path / "in" / "*.*"), "--out", str(out), "--model", str(tiny_checkpoints["TT"]), "--outputs", "alpha", "-q"]) == 0
    assert _size(out / "rotated_alpha.png") == (stored[1], stored[0])  # the displayed orientation
    assert _size(out / "dot_alpha.png") == (1, 1)


def test_bad_files_do_not_stop_the_batch(tmp_path: Path, photos: Path, tiny_checkpoints: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    (photos / "empty.jpg").write_bytes(b"")
    (photos / "notes.png").write_text("not an image")
    data = (photos / "sample2.jpg").read_bytes()
    (photos / "truncated.jpg").write_bytes(data[: len(data) // 3])
    out = tmp_path / "out"
    code = main(["matte", str(photos), "--out", str(out), "--model", str(tiny_checkpoints["TT"]), "--foreground", "none", "-q"])
    assert code == 1
    err = capsys.readouterr().err
    assert "1 matted, 0 skipped, 3 failed" in err
    for name in ("empty.jpg", "notes.png", "truncated.jpg"):
        assert f"failed: {photos / name}" in err
    assert sorted(p.name for p in out.iterdir()) == ["sample2_alpha.png", "sample2_cutout.png"]  # nothing partial


def test_existing_outputs(tmp_path: Path, photos: Path, tiny_checkpoints: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    base = ["matte", str(photos / "sample2.jpg"), "--out", str(out), "--model", str(tiny_checkpoints["TT"]), "--outputs", "alpha", "-q"]
    assert main(base) == 0
    before = (out / "sample2_alpha.png").stat().st_mtime_ns
    assert main(base + ["--skip-existing"]) == 0
    assert "0 matted, 1 skipped" in capsys.readouterr().err
    assert (out / "sample2_alpha.png").stat().st_mtime_ns == before
    # a rerun as written replaces the files an earlier run wrote (they carry its mark) ...
    assert main(base) == 0
    assert "1 matted, 0 skipped, 0 failed" in capsys.readouterr().err
    assert (out / "sample2_alpha.png").stat().st_mtime_ns != before
    # ... but not a file of the user's at an output path, unless told to
    Image.new("L", (4, 4), 7).save(out / "sample2_alpha.png")
    assert main(base) == 1
    assert "sample2_alpha.png already exists and was not written by gfm matte; pass --overwrite" in capsys.readouterr().err
    assert np.asarray(Image.open(out / "sample2_alpha.png")).shape == (4, 4)
    assert main(base + ["--overwrite"]) == 0
    assert _size(out / "sample2_alpha.png") == _size(photos / "sample2.jpg")


def test_unwritable_output_and_missing_inputs(tmp_path: Path, photos: Path, tiny_checkpoints: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    assert main(["matte", str(photos / "sample2.jpg"), "--out", str(blocker / "out"), "--model", str(tiny_checkpoints["TT"])]) == 2
    assert "cannot write outputs there" in capsys.readouterr().err
    assert main(["matte", str(tmp_path / "nothing*.jpg"), "--out", str(tmp_path / "o"), "--model", str(tiny_checkpoints["TT"]), "-q"]) == 1
    assert "no such file, folder or matching pattern" in capsys.readouterr().err


def test_missing_weights_say_how_to_get_them(
    tmp_path: Path, photos: Path, gfm_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Registered weights are downloaded on first use; here no server answers (the discard port).
    monkeypatch.setenv("GFM_WEIGHTS_BASE_URL", "http://127.0.0.1:9/")
    assert main(["matte", str(photos / "sample2.jpg"), "--out", str(tmp_path / "out"), "--model", "gfm-r34-tt"]) == 2
    err = capsys.readouterr().err
    assert "gfm_r34_tt.pth" in err
    assert "https://drive.google.com/" in err and "1AdtoIdYTLsjXfVe_a50tin0cFwZMSz93" in err
    assert "gfm weights import FILE --name gfm-r34-tt" in err
    assert not (tmp_path / "out" / "sample2_alpha.png").exists()


def test_bad_options(tmp_path: Path, photos: Path, tiny_checkpoints: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    base = ["matte", str(photos / "sample2.jpg"), "--out", str(tmp_path / "out"), "--model", str(tiny_checkpoints["TT"])]
    assert main(base + ["--outputs", "alpha,mask"]) == 2
    assert "unknown --outputs mask" in capsys.readouterr().err
    assert main(base + ["--background", "not-a-colour"]) == 2
    assert "cannot read colour" in capsys.readouterr().err
    assert main(base + ["--device", "tpu"]) == 2
    assert "unknown device 'tpu'; use auto, cpu, cuda or cuda:N" in capsys.readouterr().err
    assert main(base + ["--max-pixels", "1000"]) == 2
    assert "--max-pixels) must be at least 64x64" in capsys.readouterr().err
    for option in ("--threads", "--max-pixels"):
        with pytest.raises(SystemExit) as exit_info:
            main(base + [option, "0"])
        assert exit_info.value.code == 2
        assert f"argument {option}: must be 1 or more, got 0" in capsys.readouterr().err
    assert not (tmp_path / "out" / "sample2_alpha.png").exists()


def test_bf16_precision_option(tmp_path: Path, photos: Path, tiny_checkpoints: dict[str, Path]) -> None:
    out = tmp_path / "out"
    args = ["matte", str(photos / "sample2.jpg"), "--out", str(out), "--model", str(tiny_checkpoints["TT"]), "--outputs", "alpha", "-q"]
    assert main([*args, "--precision", "bf16"]) == 0
    assert _size(out / "sample2_alpha.png") == _size(photos / "sample2.jpg")


def test_model_from_a_training_run_folder(tmp_path: Path, photos: Path, tiny_checkpoints: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "runs" / "mine"
    run.mkdir(parents=True)
    out = tmp_path / "out"
    args = ["matte", str(photos / "sample2.jpg"), "--out", str(out), "--model", str(run), "--outputs", "alpha", "-q", "--overwrite"]
    assert main(args) == 2
    assert f"{run}: a folder without best.pt or last.pt" in capsys.readouterr().err
    shutil.copy(tiny_checkpoints["FT"], run / "last.pt")
    assert load_model_spec(str(run)).config.rosta == "FT"  # last.pt when there is no best.pt
    shutil.copy(tiny_checkpoints["TT"], run / "best.pt")
    assert load_model_spec(str(run)).config.rosta == "TT"  # best.pt wins
    assert main(args) == 0
    assert _size(out / "sample2_alpha.png") == _size(photos / "sample2.jpg")


def test_one_image_to_one_file(tmp_path: Path, photos: Path, tiny_checkpoints: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """gfm matte photo.jpg -o cutout.png (rembg's habit): the cutout, or the one kind --outputs names."""
    model = ["--model", str(tiny_checkpoints["TT"]), "-q", "--foreground", "none"]
    assert main(["matte", str(photos / "sample2.jpg"), "-o", str(tmp_path / "cutout.png"), *model]) == 0
    with Image.open(tmp_path / "cutout.png") as cut:
        assert cut.mode == "RGBA" and cut.size == _size(photos / "sample2.jpg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cutout.png", "photos"]  # nothing else written
    assert main(["matte", str(photos / "sample2.jpg"), "-o", str(tmp_path / "new" / "mask.png"), "--outputs", "alpha", *model]) == 0
    with Image.open(tmp_path / "new" / "mask.png") as mask:
        assert mask.mode == "L"
    capsys.readouterr()
    refusals = [
        (["-o", str(tmp_path / "x.png"), "--outputs", "alpha,cutout"], "writes one file; choose one output with --outputs"),
        (["-o", str(tmp_path / "x.jpg"), "--outputs", "alpha"], "x.jpg: the alpha is written as a grayscale PNG; name the file x.png"),
        (["-o", str(tmp_path / "x.jpg")], "cannot store the cutout's transparency"),
    ]
    for extra, message in refusals:
        assert main(["matte", str(photos / "sample2.jpg"), *extra, *model]) == 2
        assert message in capsys.readouterr().err
    assert main(["matte", str(photos), "-r", "-o", str(tmp_path / "x.png"), *model]) == 2
    assert "the inputs name 2 images; give an output folder" in capsys.readouterr().err
    assert not list(tmp_path.glob("x.*"))


def test_stdin_to_stdout_in_a_pipeline(tmp_path: Path, photos: Path, tiny_checkpoints: dict[str, Path]) -> None:
    """cat a.jpg | gfm matte - -o - > a.png: PNG bytes on stdout, messages on stderr."""
    import subprocess
    import sys

    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "gfm.cli.main", "matte", "-", "-o", "-", "--model", str(tiny_checkpoints["TT"]), "-q", "--foreground", "none"]
    done = subprocess.run(cmd, input=(photos / "sample2.jpg").read_bytes(), capture_output=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    (tmp_path / "a.png").write_bytes(done.stdout)
    with Image.open(tmp_path / "a.png") as cut:
        assert cut.format == "PNG" and cut.mode == "RGBA" and cut.size == _size(photos / "sample2.jpg")
    assert b"1 matted" in done.stderr
    bad = subprocess.run(cmd, input=b"not an image", capture_output=True, env=env, timeout=120)
    assert bad.returncode == 1 and bad.stdout == b""
    assert b"<stdin>: not an image file" in bad.stderr


def test_one_file_output_follows_the_no_clobber_rules(tmp_path: Path, photos: Path, tiny_checkpoints: dict[str, Path],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """-o FILE: a rerun replaces its own (marked) file; any other file only with --overwrite; never an input."""
    model = ["--model", str(tiny_checkpoints["TT"]), "-q", "--foreground", "none"]
    photo = str(photos / "sample2.jpg")
    assert main(["matte", photo, "-o", str(tmp_path / "cutout.png"), *model]) == 0
    assert main(["matte", photo, "-o", str(tmp_path / "cutout.png"), *model]) == 0  # the README's command, rerun
    mine = tmp_path / "mine.png"
    Image.new("RGB", (4, 4)).save(mine)
    before = mine.read_bytes()
    capsys.readouterr()
    assert main(["matte", photo, "-o", str(mine), *model]) == 1
    assert "mine.png already exists and was not written by gfm matte; pass --overwrite" in capsys.readouterr().err
    assert mine.read_bytes() == before
    assert main(["matte", photo, "-o", str(mine), "--overwrite", *model]) == 0
    with Image.open(mine) as cut:
        assert cut.mode == "RGBA"
    own = tmp_path / "photo.png"
    Image.open(photo).save(own)
    before = own.read_bytes()
    assert main(["matte", str(own), "-o", str(own), "--overwrite", *model]) == 1
    assert "is an input of this run and would be overwritten" in capsys.readouterr().err
    assert own.read_bytes() == before


def test_a_background_without_a_composite_is_pointed_out(tmp_path: Path, photos: Path, tiny_checkpoints: dict[str, Path],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    model = ["--model", str(tiny_checkpoints["TT"]), "-q", "--foreground", "none"]
    assert main(["matte", str(photos / "sample2.jpg"), "--out", str(tmp_path), "--outputs", "alpha", "--background", "green", *model]) == 0
    assert "note: --background is used by the composite output only; add it with --outputs alpha,composite" in capsys.readouterr().err


def test_the_gfm_executable_ends_at_once_with_everything_written(tmp_path: Path, photos: Path, tiny_checkpoints: dict[str, Path]) -> None:
    """`gfm matte` ends without the interpreter's teardown (os._exit): what it wrote,
    to files and to standard output, is complete, and its exit status is kept."""
    import subprocess
    import sys

    command = [sys.executable, "-c", "from gfm.cli.main import console_main; console_main()", "matte"]
    model = ["--model", str(tiny_checkpoints["TT"]), "--threads", "1"]
    piped = subprocess.run([*command, str(photos / "sample2.jpg"), "-o", "-", "--outputs", "alpha", *model],
                           capture_output=True, check=True)
    assert piped.stdout.startswith(b"\x89PNG") and piped.stdout.endswith(b"IEND\xaeB`\x82")
    done = subprocess.run([*command, str(photos), "-r", "--out", str(tmp_path / "out"), *model], capture_output=True, text=True)
    assert done.returncode == 0 and "2 matted" in done.stderr
    assert Image.open(tmp_path / "out" / "sub" / "sample6_alpha.png").size == (800, 535)
    failed = subprocess.run([*command, str(tmp_path / "missing.jpg"), "--out", str(tmp_path / "out2"), *model], capture_output=True, text=True)
    assert failed.returncode == 1 and "missing.jpg" in failed.stderr
