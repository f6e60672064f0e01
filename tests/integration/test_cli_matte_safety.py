"""`gfm matte` never loses a file: concurrent runs, outputs next to inputs, links, odd images.

The policy under test (README "Existing files"): outputs carry a mark; a rerun
replaces only its own earlier outputs that existed when it planned its work;
any other file is replaced only with --overwrite; the final rename never
replaces a file that appeared meanwhile; inputs are never overwritten and
outputs are never taken as inputs. One image's failure never ends a batch and
leaves no outputs of that image.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import gfm
import gfm.io
from gfm.cli.main import main

EXAMPLES = Path(__file__).parents[2] / "examples" / "original"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("weights")
    return str(gfm.save_checkpoint(gfm.create_model("tiny", "TT"), folder / "tiny_tt.pth"))


def _photo(folder: Path, name: str, size: tuple[int, int] = (64, 48)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with Image.open(EXAMPLES / "sample2.jpg") as image:
        image.convert("RGB").resize(size).save(folder / name)
    return folder / name


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_a_file_that_appears_during_the_run_is_never_replaced(
    tmp_path: Path, tiny: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two runs into one folder: the one that finishes second reports the clash instead of overwriting."""
    photo = _photo(tmp_path / "a", "cat.jpg")
    out = tmp_path / "out"
    read = gfm.io.read_image

    def read_while_another_run_writes(path: str | os.PathLike[str]) -> np.ndarray:
        Image.new("L", (3, 3), 42).save(out / "cat_alpha.png")  # the other run's output lands now
        return read(path)

    monkeypatch.setattr(gfm.io, "read_image", read_while_another_run_writes)
    assert main(["matte", str(photo), "--out", str(out), "--model", tiny, "--outputs", "alpha,cutout", "-q"]) == 1
    err = capsys.readouterr().err
    assert "0 matted, 0 skipped, 1 failed" in err
    assert "cat_alpha.png: a file appeared there while this run worked" in err
    assert np.asarray(Image.open(out / "cat_alpha.png")).tolist() == [[42] * 3] * 3  # untouched
    assert _files(out) == ["cat_alpha.png"]  # and no half set: the cutout written before was removed


def test_an_output_replaced_meanwhile_is_left_alone(
    tmp_path: Path, tiny: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = _photo(tmp_path / "a", "cat.jpg")
    out = tmp_path / "out"
    base = ["matte", str(photo), "--out", str(out), "--model", tiny, "--outputs", "alpha", "-q"]
    assert main(base) == 0
    read = gfm.io.read_image

    def read_while_another_run_writes(path: str | os.PathLike[str]) -> np.ndarray:
        replacement = out / "other.png"
        Image.new("L", (3, 3), 42).save(replacement)
        os.replace(replacement, out / "cat_alpha.png")
        return read(path)

    monkeypatch.setattr(gfm.io, "read_image", read_while_another_run_writes)
    assert main(base) == 1
    assert "cat_alpha.png: the file was replaced by another process while this run worked" in capsys.readouterr().err
    assert np.asarray(Image.open(out / "cat_alpha.png")).tolist() == [[42] * 3] * 3
    assert _files(out) == ["cat_alpha.png"]  # nothing set aside left behind


def test_out_equal_to_the_input_folder_never_overwrites_or_remattes(tmp_path: Path, tiny: str, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "photos"
    _photo(folder, "cat.jpg")
    _photo(folder, "dog.jpg")
    mine = _photo(folder, "dog_alpha.png")  # the user's own file, named like dog.jpg's output
    mine_bytes = mine.read_bytes()
    base = ["matte", str(folder), "--out", str(folder), "--model", tiny, "--outputs", "alpha", "-q"]
    for extra in ([], ["--overwrite"], ["--overwrite"]):
        assert main(base + extra) == 1
        err = capsys.readouterr().err
        assert "dog_alpha.png is an input of this run and would be overwritten; choose another --out folder" in err
        assert mine.read_bytes() == mine_bytes
    # cat's outputs are never matted again (no cat_alpha_alpha.png); the user's dog_alpha.png is an input
    assert _files(folder) == ["cat.jpg", "cat_alpha.png", "dog.jpg", "dog_alpha.png", "dog_alpha_alpha.png"]
    assert "2 file(s) of the inputs are outputs of an earlier gfm matte run" in err  # cat_alpha, dog_alpha_alpha


def test_out_inside_the_input_folder_with_recursion(tmp_path: Path, tiny: str, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "photos"
    _photo(folder, "cat.jpg")
    _photo(folder / "sub", "dog.jpg")
    base = ["matte", str(folder), "-r", "--out", str(folder / "mattes"), "--model", tiny, "-q"]
    assert main(base) == 0
    assert main(base) == 0  # rerun as written: replaces its own outputs, mattes nothing of them
    assert "2 matted, 0 skipped, 0 failed" in capsys.readouterr().err
    assert _files(folder / "mattes") == ["cat_alpha.png", "cat_cutout.png", "sub/dog_alpha.png", "sub/dog_cutout.png"]


def test_links_are_matted_skipped_or_failed_with_a_reason(tmp_path: Path, tiny: str, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "photos"
    _photo(folder, "a.jpg")
    _photo(folder, "b.jpg")
    (folder / "c.jpg").symlink_to("a.jpg")  # a second name for a.jpg
    (folder / "gone.jpg").symlink_to("missing.jpg")
    (folder / "loop.jpg").symlink_to("loop.jpg")
    assert main(["matte", str(folder), "--out", str(tmp_path / "out"), "--model", tiny, "--outputs", "alpha", "-q"]) == 1
    err = capsys.readouterr().err
    assert "2 matted, 1 skipped, 2 failed" in err  # five entries, five verdicts
    assert f"skipped: {folder / 'c.jpg'}: the same file as {folder / 'a.jpg'}" in err
    assert f"failed: {folder / 'gone.jpg'}: broken symbolic link (it points to missing.jpg" in err
    assert f"failed: {folder / 'loop.jpg'}: symbolic link loop" in err


def test_odd_images_get_every_output_and_the_batch_goes_on(tmp_path: Path, tiny: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A 1x1 photo (pymatting divided by zero), a 5000:1 strip (preview resize) and a 1-pixel-high background."""
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.new("RGB", (1, 1), (200, 10, 10)).save(folder / "dot.png")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (5000, 1, 3), np.uint8)).save(folder / "strip.png")
    _photo(folder, "cat.jpg")
    background = tmp_path / "line.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (1, 300, 3), np.uint8)).save(background)
    out = tmp_path / "out"
    kinds = "alpha,cutout,foreground,composite,trimap,preview"
    args = ["matte", str(folder), "--out", str(out), "--model", tiny, "--outputs", kinds, "--background", str(background), "-q"]
    assert main(args) == 0, capsys.readouterr().err
    assert "3 matted, 0 skipped, 0 failed" in capsys.readouterr().err
    assert len(_files(out)) == 18
    cut = np.asarray(Image.open(out / "dot_cutout.png"))
    assert cut.shape == (1, 1, 4)
    # a single pixel is its own foreground colour, up to what its alpha shows (fast's float32
    # solve is a few levels off where the alpha is tiny: invisible in any composite)
    shown = np.abs(cut[0, 0, :3].astype(float) - [200, 10, 10]) * cut[0, 0, 3] / 255
    assert shown.max() <= 1.0
    assert Image.open(out / "strip_preview.jpg").size[1] == 720


def test_an_unexpected_error_fails_one_image_only_and_leaves_none_of_its_outputs(
    tmp_path: Path, tiny: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import gfm.inference.foreground as foreground

    folder = tmp_path / "photos"
    _photo(folder, "a.jpg")
    _photo(folder, "b.jpg", size=(40, 30))
    _photo(folder, "c.jpg")
    real = foreground.preview

    def preview(image: np.ndarray, *args: object) -> np.ndarray:
        if image.shape[:2] == (30, 40):
            raise ZeroDivisionError("division by zero")
        return real(image, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(foreground, "preview", preview)
    out = tmp_path / "out"
    code = main(["matte", str(folder), "--out", str(out), "--model", tiny, "--outputs", "alpha,cutout,preview", "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert "2 matted, 0 skipped, 1 failed" in err
    assert "b.jpg: unexpected ZeroDivisionError (division by zero); this is a bug in gfm" in err
    assert "Traceback" not in err
    assert _files(out) == [f"{n}_{k}" for n in "ac" for k in ("alpha.png", "cutout.png", "preview.jpg")]


def test_the_readme_main_command_reruns_as_written(tmp_path: Path, tiny: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 15 item 7: `gfm matte examples/original --out out/ --outputs alpha,cutout,preview`, twice."""
    shutil.copytree(EXAMPLES, tmp_path / "examples" / "original")
    monkeypatch.chdir(tmp_path)
    command = ["matte", "examples/original", "--out", "out/", "--outputs", "alpha,cutout,preview", "--model", tiny, "-q"]
    assert main(command) == 0
    first = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir()}
    assert main(command) == 0
    assert "3 matted, 0 skipped, 0 failed" in capsys.readouterr().err
    again = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir()}
    assert sorted(again) == sorted(first) and len(first) == 9
    assert all(again[name] != first[name] for name in first)  # replaced, not skipped


def test_messages_name_the_right_fix(tmp_path: Path, tiny: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing --background file, an RGBA one, and a file where an output sub-folder goes."""
    folder = tmp_path / "photos"
    _photo(folder, "a.jpg")
    _photo(folder / "sub", "b.jpg")
    out = tmp_path / "out"
    base = ["matte", str(folder), "-r", "--out", str(out), "--model", tiny, "--outputs", "alpha,composite", "-q"]
    assert main(base + ["--background", str(tmp_path / "missing.png")]) == 2
    err = capsys.readouterr().err
    assert f"background {tmp_path / 'missing.png'}: no such image file" in err and "cannot read colour" not in err
    Image.new("RGBA", (8, 8), (0, 0, 255, 128)).save(tmp_path / "rgba.png")
    out.mkdir()
    (out / "sub").write_text("a file where the sub-folder of the outputs goes")
    assert main(base + ["--background", str(tmp_path / "rgba.png")]) == 1
    err = capsys.readouterr().err
    assert f"note: --background {tmp_path / 'rgba.png'} has an alpha channel; it is ignored" in err
    assert "UserWarning" not in err and "warnings.warn" not in err
    assert f"{out / 'sub'}: a file is in the way of this output folder; move it, or choose another --out" in err
    assert "[Errno" not in err
    assert "1 matted, 0 skipped, 1 failed" in err
