"""Hardening tests of gfm.io: odd modes, broken files, bombs, atomic writes."""

from __future__ import annotations

import gc
import os
import struct
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gfm.errors import InputError, OutputError
from gfm.io import atomic_write, read_alpha, read_image, write_alpha, write_image
from gfm.io import images as images_module


def _two_colour(width: int = 40, height: int = 20) -> np.ndarray:
    """Left half red, right half blue: orientation is easy to read back."""
    array = np.zeros((height, width, 3), np.uint8)
    array[:, : width // 2] = (255, 0, 0)
    array[:, width // 2 :] = (0, 0, 255)
    return array


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims width x height (1-bit gray), with one tiny IDAT.

    Pillow reads the size from the header, so this is a decompression bomb of
    a few dozen bytes.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


# ----------------------------------------------------------------- colour modes


def test_rgb_png_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (17, 23, 3), dtype=np.uint8)
    write_image(tmp_path / "x.png", image)
    out = read_image(tmp_path / "x.png")
    assert out.dtype == np.uint8 and out.shape == (17, 23, 3)
    np.testing.assert_array_equal(out, image)


@pytest.mark.parametrize(("orientation", "top", "shape"), [(1, None, (20, 40, 3)), (6, "red", (40, 20, 3)), (8, "blue", (40, 20, 3)), (3, None, (20, 40, 3))])
def test_exif_orientation_is_applied(tmp_path: Path, orientation: int, top: str | None, shape: tuple[int, ...]) -> None:
    pil = Image.fromarray(_two_colour())
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.jpg"
    pil.save(path, format="JPEG", exif=exif, quality=95)
    out = read_image(path).astype(int)
    assert out.shape == shape
    if top is not None:  # rotated by 90 degrees: the colours are now top / bottom
        upper, lower = out[:5].mean(axis=(0, 1)), out[-5:].mean(axis=(0, 1))
        red, blue = (upper, lower) if top == "red" else (lower, upper)
        assert red[0] > 200 and red[2] < 60
        assert blue[2] > 200 and blue[0] < 60
    elif orientation == 3:  # rotated by 180 degrees: blue on the left
        assert out[:, :5].mean(axis=(0, 1))[2] > 200
    else:
        assert out[:, :5].mean(axis=(0, 1))[0] > 200


def test_grayscale_becomes_three_equal_channels(tmp_path: Path) -> None:
    gray = np.arange(0, 250, 10, dtype=np.uint8).reshape(5, 5)
    Image.fromarray(gray).save(tmp_path / "g.png")
    out = read_image(tmp_path / "g.png")
    assert out.shape == (5, 5, 3)
    for channel in range(3):
        np.testing.assert_array_equal(out[..., channel], gray)


def test_palette_is_expanded(tmp_path: Path) -> None:
    pil = Image.fromarray(_two_colour()).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    pil.save(tmp_path / "p.png")
    with Image.open(tmp_path / "p.png") as pil:
        assert pil.mode == "P"
    np.testing.assert_array_equal(read_image(tmp_path / "p.png"), _two_colour())


def test_cmyk_jpeg_is_converted(tmp_path: Path) -> None:
    Image.fromarray(_two_colour()).convert("CMYK").save(tmp_path / "c.jpg", quality=95)
    with Image.open(tmp_path / "c.jpg") as pil:
        assert pil.mode == "CMYK"
    out = read_image(tmp_path / "c.jpg")
    assert out.shape == (20, 40, 3)
    assert np.abs(out.astype(int) - _two_colour().astype(int)).mean() < 8


def test_rgba_alpha_is_dropped_with_a_warning(tmp_path: Path) -> None:
    rgba = np.dstack([_two_colour(), np.full((20, 40), 7, np.uint8)])
    path = tmp_path / "cutout.png"
    Image.fromarray(rgba).save(path)
    with pytest.warns(UserWarning, match="cutout.png.*alpha"):
        out = read_image(path)
    np.testing.assert_array_equal(out, _two_colour())  # colours as stored, not composited


def test_palette_transparency_warns(tmp_path: Path) -> None:
    pil = Image.fromarray(_two_colour()).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    pil.info["transparency"] = 0
    pil.save(tmp_path / "pt.png", transparency=0)
    with pytest.warns(UserWarning, match="pt.png"):
        read_image(tmp_path / "pt.png")


def test_plain_rgb_does_not_warn(tmp_path: Path) -> None:
    write_image(tmp_path / "x.png", _two_colour())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_image(tmp_path / "x.png")


def test_16bit_gray_is_scaled_from_full_range(tmp_path: Path) -> None:
    ramp = np.linspace(0, 65535, 16 * 16).astype(np.uint16).reshape(16, 16)
    Image.fromarray(ramp).save(tmp_path / "ramp16.png")
    with Image.open(tmp_path / "ramp16.png") as pil:
        assert pil.mode.startswith("I;16")
    out = read_image(tmp_path / "ramp16.png")
    expected = np.rint(ramp / 65535.0 * 255.0).astype(np.uint8)
    np.testing.assert_array_equal(out[..., 0], expected)


def test_dark_16bit_gray_stays_dark(tmp_path: Path) -> None:
    # Regression: a max <= 255 used to be taken for an 8-bit range (x257 too bright).
    Image.fromarray(np.full((4, 4), 200, np.uint16)).save(tmp_path / "dark16.png")
    assert read_image(tmp_path / "dark16.png").max() <= 1


# ------------------------------------------------------------------ alpha I/O


@pytest.mark.parametrize("bits", [8, 16])
def test_alpha_round_trip(tmp_path: Path, bits: int) -> None:
    alpha = np.linspace(0.0, 1.0, 64 * 48, dtype=np.float32).reshape(48, 64)
    write_alpha(tmp_path / "a.png", alpha, bits=bits)
    with Image.open(tmp_path / "a.png") as pil:
        assert pil.mode == ("L" if bits == 8 else "I;16")
    out = read_alpha(tmp_path / "a.png")
    assert out.dtype == np.float32 and out.shape == (48, 64)
    assert out.min() == 0.0 and out.max() == 1.0
    assert np.abs(out - alpha).max() <= 0.5 / (2**bits - 1) + 1e-7


def test_alpha_values_outside_are_clipped(tmp_path: Path) -> None:
    write_alpha(tmp_path / "a.png", np.array([[-0.5, 1.5]], np.float32))
    np.testing.assert_array_equal(read_alpha(tmp_path / "a.png"), [[0.0, 1.0]])


def test_alpha_accepts_gray_rgb_and_gray_palette_rejects_colour(tmp_path: Path) -> None:
    gray = np.arange(0, 256, 16, dtype=np.uint8).reshape(4, 4)
    Image.fromarray(np.dstack([gray] * 3)).save(tmp_path / "rgb.png")
    np.testing.assert_allclose(read_alpha(tmp_path / "rgb.png"), gray / 255.0)
    Image.fromarray(gray).convert("P").save(tmp_path / "p.png")
    np.testing.assert_allclose(read_alpha(tmp_path / "p.png"), gray / 255.0)
    Image.fromarray(_two_colour()).save(tmp_path / "colour.png")
    with pytest.raises(InputError, match="colour.png.*differ"):
        read_alpha(tmp_path / "colour.png")
    Image.fromarray(_two_colour()).convert("P").save(tmp_path / "colourp.png")
    with pytest.raises(InputError, match="colourp.png"):
        read_alpha(tmp_path / "colourp.png")


def test_write_alpha_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="NaN"):
        write_alpha(tmp_path / "a.png", np.array([[0.5, np.nan]]))
    with pytest.raises(InputError, match="shape"):
        write_alpha(tmp_path / "a.png", np.zeros((2, 2, 1)))
    with pytest.raises(InputError, match="bit depth"):
        write_alpha(tmp_path / "a.png", np.zeros((2, 2)), bits=12)
    assert list(tmp_path.iterdir()) == []


# -------------------------------------------------------------- broken inputs


def test_missing_folder_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nothere.png.*no such file"):
        read_image(tmp_path / "nothere.png")
    with pytest.raises(InputError, match="is a folder"):
        read_image(tmp_path)
    (tmp_path / "empty.jpg").write_bytes(b"")
    for reader in (read_image, read_alpha):
        with pytest.raises(InputError, match="empty.jpg.*empty"):
            reader(tmp_path / "empty.jpg")


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_truncated_files(tmp_path: Path, suffix: str) -> None:
    rng = np.random.default_rng(1)
    full = tmp_path / f"full{suffix}"
    write_image(full, rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    data = full.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    for reader in (read_image, read_alpha):
        with pytest.raises(InputError, match=f"cut{suffix}"):
            reader(cut)


def test_non_image_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("this is not a picture\n")
    with pytest.raises(InputError, match="notes.png.*not an image"):
        read_image(path)


def test_decompression_bomb_is_refused_quickly(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    _png_header_only(path, 30000, 30000)
    assert path.stat().st_size < 200
    before = Image.MAX_IMAGE_PIXELS
    for reader in (read_image, read_alpha):
        with pytest.raises(InputError, match="bomb.png.*too large"):
            reader(path)
    assert Image.MAX_IMAGE_PIXELS == before  # the global guard is restored


def test_one_size_limit_and_one_message_everywhere(tmp_path: Path) -> None:
    """Headers read by data check, prepare and training refuse what gfm matte refuses, in the same words."""
    from gfm.data.files import read_header

    path = tmp_path / "bomb.png"
    _png_header_only(path, 30000, 30000)  # 900 MP: Pillow itself would raise DecompressionBombError
    messages = []
    for reader in (read_image, read_header):
        with pytest.raises(InputError) as caught:
            reader(path)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert "30000 x 30000 = 900 megapixels" in messages[0] and "up to 250 megapixels" in messages[0]
    assert "500000000" not in messages[0] and "decompression bomb" not in messages[0]  # no second limit


def test_image_just_over_our_limit_is_refused(tmp_path: Path) -> None:
    # Between our limit and twice it Pillow only warns; our own check refuses.
    path = tmp_path / "big.png"
    side = int((images_module.MAX_IMAGE_PIXELS * 1.2) ** 0.5)
    _png_header_only(path, side, side)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no DecompressionBombWarning leaks out
        with pytest.raises(InputError, match=f"big.png.*{side} x {side}"):
            read_image(path)


# ------------------------------------------------------------- atomic writes


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out" / "alpha.png"
    with pytest.raises(RuntimeError), atomic_write(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("boom")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_atomic_write_keeps_old_content_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "alpha.png"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_write(target) as tmp:
        tmp.write_bytes(b"new")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alpha.png"]


def test_atomic_write_permissions_follow_umask_or_old_file(tmp_path: Path) -> None:
    old_mask = os.umask(0o027)
    try:
        with atomic_write(tmp_path / "new.bin", fsync=True) as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(old_mask)
    assert (tmp_path / "new.bin").stat().st_mode & 0o777 == 0o640
    existing = tmp_path / "old.bin"
    existing.write_bytes(b"a")
    existing.chmod(0o604)
    with atomic_write(existing) as tmp:
        tmp.write_bytes(b"b")
    assert existing.stat().st_mode & 0o777 == 0o604 and existing.read_bytes() == b"b"


def test_write_image_refusals_leave_no_file(tmp_path: Path) -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)
    with pytest.raises(InputError, match="transparency"):
        write_image(tmp_path / "x.jpg", rgba)
    with pytest.raises(OutputError, match="suffix"):
        write_image(tmp_path / "x.gif", rgba[..., :3])
    with pytest.raises(InputError, match="uint8"):
        write_image(tmp_path / "x.png", rgba.astype(np.float32))
    assert list(tmp_path.iterdir()) == []


def test_write_image_format_follows_suffix(tmp_path: Path) -> None:
    image = _two_colour()
    for suffix, fmt in [(".png", "PNG"), (".tif", "TIFF"), (".webp", "WEBP"), (".jpeg", "JPEG"), (".bmp", "BMP")]:
        write_image(tmp_path / f"x{suffix}", image)
        with Image.open(tmp_path / f"x{suffix}") as pil:
            assert pil.format == fmt
    rgba = np.dstack([image, np.full(image.shape[:2], 128, np.uint8)])
    write_image(tmp_path / "cut.tiff", rgba)
    with Image.open(tmp_path / "cut.tiff") as pil:
        assert pil.mode == "RGBA"


def test_unwritable_target_is_an_output_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(OutputError, match="cannot write"):
        write_alpha(blocker / "a.png", np.zeros((2, 2)))
    with pytest.raises(OutputError, match="cannot write"):
        write_image(blocker / "a.png", np.zeros((2, 2, 3), np.uint8))


def test_multi_frame_files_give_the_first_frame_and_are_closed(tmp_path: Path) -> None:
    first, second = Image.new("RGB", (8, 6), (200, 200, 200)), Image.new("RGB", (8, 6), (10, 10, 10))
    first.save(tmp_path / "pages.tif", save_all=True, append_images=[second])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = read_image(tmp_path / "pages.tif")
        alpha = read_alpha(tmp_path / "pages.tif")
        gc.collect()  # an unclosed file would warn when collected
    assert out.shape == (6, 8, 3) and tuple(out[0, 0]) == (200, 200, 200)
    np.testing.assert_allclose(alpha, 200 / 255)
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_atomic_write_without_replace_never_clobbers_a_file_that_appeared(tmp_path: Path) -> None:
    from gfm.errors import OutputClashError

    target = tmp_path / "out.bin"
    with pytest.raises(OutputClashError, match="appeared there while this run worked"), atomic_write(target, replace=False) as tmp:
        tmp.write_bytes(b"ours")
        target.write_bytes(b"theirs")  # another process, between planning and the rename
    assert target.read_bytes() == b"theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]
    target.unlink()
    with atomic_write(target, replace=False) as tmp:
        tmp.write_bytes(b"ours")
    assert target.read_bytes() == b"ours"


def test_atomic_write_replaces_only_the_file_planning_saw(tmp_path: Path) -> None:
    from gfm.errors import OutputClashError
    from gfm.io.atomic import FileStamp

    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    seen = FileStamp.of(target)
    assert seen is not None and FileStamp.of(tmp_path / "none") is None
    with atomic_write(target, replace=seen) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    seen = FileStamp.of(target)
    with pytest.raises(OutputClashError, match="replaced by another process"), atomic_write(target, replace=seen) as tmp:
        tmp.write_bytes(b"ours")
        other = tmp_path / "other"
        other.write_bytes(b"theirs")
        os.replace(other, target)
    assert target.read_bytes() == b"theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_stale_temporaries_of_killed_runs_are_removed_and_nothing_else(tmp_path: Path) -> None:
    from gfm.io.atomic import remove_stale_temporaries

    names = [".cat_alpha.png.k2j4_x9a.tmp.png", ".gfm_r34_tt.pth.abcd1234.tmp.pth", ".cat_alpha.png.0123abcd.tmp.old"]
    keep = [".hidden", "photo.tmp.png", ".cat.png.short.tmp.png", "cat_alpha.png"]
    for name in names + keep + [".fresh.png.abcdefgh.tmp.png"]:
        (tmp_path / name).write_bytes(b"x")
    old = time.time() - 2 * 3600
    for name in names + keep:
        os.utime(tmp_path / name, (old, old))
    assert remove_stale_temporaries(tmp_path) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(keep + [".fresh.png.abcdefgh.tmp.png"])  # a write in progress stays
