"""Hint PNGs (trimap-like, transparent = unknown) and decoding uploaded bytes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gfm.errors import InputError
from gfm.io import decode_image, read_image, write_alpha, write_image
from gfm.io.hints import Hint, decode_hint, hint_to_gray, read_hint


def _png(array: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_trimap_is_a_full_hint(tmp_path: Path) -> None:
    trimap = np.zeros((20, 30), np.float32)
    trimap[:, 10:20] = 128 / 255
    trimap[:, 20:] = 1.0
    path = tmp_path / "cat_trimap.png"
    write_alpha(path, trimap)  # what `gfm matte --outputs trimap` writes
    hints = read_hint(path, (20, 30))
    assert hints.dtype == np.uint8
    assert (hints[:, :10] == Hint.BACKGROUND).all()
    assert (hints[:, 10:20] == Hint.TRANSITION).all()
    assert (hints[:, 20:] == Hint.FOREGROUND).all()


@pytest.mark.parametrize("mode", ["LA", "RGBA"])
def test_transparent_pixels_are_unknown(mode: str) -> None:
    hints = np.zeros((8, 12), np.uint8)
    hints[2:4, 2:4] = Hint.FOREGROUND
    hints[5, :] = Hint.TRANSITION
    hints[:, 0] = Hint.BACKGROUND
    gray_alpha = hint_to_gray(hints)
    array = gray_alpha if mode == "LA" else np.dstack([gray_alpha[..., 0]] * 3 + [gray_alpha[..., 1]])
    np.testing.assert_array_equal(decode_hint(_png(array, mode), (8, 12)), hints)


def test_transparent_pixels_may_have_any_colour() -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = (200, 10, 90)  # invisible colour under alpha 0
    rgba[0, 0] = (255, 255, 255, 255)
    hints = decode_hint(_png(rgba, "RGBA"), (4, 4))
    assert hints[0, 0] == Hint.FOREGROUND and (hints.ravel()[1:] == Hint.UNKNOWN).all()


def test_soft_brushes_and_other_levels_are_refused_with_the_place() -> None:
    gray = np.zeros((10, 10), np.uint8)
    gray[3, 7] = 77
    with pytest.raises(InputError, match=r"hint: 1 gray levels other than 0, 128 and 255 \(the first at x=7, y=3: 77\)"):
        decode_hint(_png(gray), (10, 10))
    la = np.zeros((10, 10, 2), np.uint8)
    la[..., 1] = 255
    la[4, 2, 1] = 128
    with pytest.raises(InputError, match="partly transparent.*x=2, y=4"):
        decode_hint(_png(la, "LA"), (10, 10))
    colour = np.zeros((10, 10, 3), np.uint8)
    colour[0, 0] = (255, 0, 0)
    with pytest.raises(InputError, match="coloured pixels"):
        decode_hint(_png(colour), (10, 10))


def test_wrong_size_names_both_sizes(tmp_path: Path) -> None:
    path = tmp_path / "hint.png"
    path.write_bytes(_png(np.zeros((10, 20), np.uint8)))
    with pytest.raises(InputError, match=r"hint.png: the hint map is 20x10 pixels but the image is 30x10"):
        read_hint(path, (10, 30))


def test_a_hint_far_larger_than_the_image_is_refused_from_its_header() -> None:
    header = _png(np.zeros((1200, 1200), np.uint8))
    with pytest.raises(InputError, match="the hint map is 1200x1200 pixels but the image is 10x10"):  # not "too large for gfm"
        decode_hint(header, (10, 10))


def test_unreadable_hints(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="empty"):
        decode_hint(b"", (4, 4))
    with pytest.raises(InputError, match="not an image"):
        decode_hint(b"hello", (4, 4))
    with pytest.raises(InputError, match="no such file"):
        read_hint(tmp_path / "missing.png")


def test_decode_image_equals_read_image(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "photo.jpg"
    write_image(path, rng.integers(0, 256, (40, 50, 3), dtype=np.uint8))
    np.testing.assert_array_equal(decode_image(path.read_bytes()), read_image(path))


def test_decode_image_refusals() -> None:
    with pytest.raises(InputError, match="upload: no data"):
        decode_image(b"", name="upload")
    with pytest.raises(InputError, match="photo: not an image"):
        decode_image(b"GIF? no", name="photo")
    data = _png(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(InputError, match="truncated|cannot decode"):
        decode_image(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"too large \(64 x 64 = 0.0041 megapixels\); gfm reads images up to 0.003 megapixels"):
        decode_image(data, max_pixels=3000)
    with pytest.raises(InputError, match=r"too large .* up to 0.001 megapixels"):
        decode_image(data, max_pixels=1000)  # over twice the limit: refused from the header too
