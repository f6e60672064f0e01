"""gfm.io.png: PNGs that every decoder reads back exactly, bounded, marked and compact."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from gfm.errors import InputError
from gfm.io import png, read_alpha, read_image
from gfm.io.writers import read_mark, write_alpha, write_image

EXAMPLES = Path(__file__).parents[2] / "examples"


def encoded(pixels: np.ndarray, **options: object) -> bytes:
    buffer = io.BytesIO()
    png.write_png(buffer, pixels, **options)  # type: ignore[arg-type]
    return buffer.getvalue()


@pytest.fixture(scope="module")
def cutout() -> np.ndarray:
    image = read_image(EXAMPLES / "original" / "sample6.jpg")
    alpha = np.rint(read_alpha(EXAMPLES / "mask" / "sample6.png") * 255).astype(np.uint8)
    return np.dstack([image * (alpha > 0)[..., None], alpha]).astype(np.uint8)


@pytest.mark.parametrize("band_bytes", [1 << 20, 2000])  # one band; many bands (a row is 3200 bytes: one row a band)
def test_every_kind_reads_back_exactly_with_pillow_and_opencv(cutout: np.ndarray, band_bytes: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(png, "BAND_BYTES", band_bytes)
    rng = np.random.default_rng(0)
    cases = {
        "RGBA": cutout,
        "RGB": np.ascontiguousarray(cutout[..., :3]),
        "L": np.ascontiguousarray(cutout[..., 3]),
        "I;16": rng.integers(0, 65536, (37, 53), dtype=np.uint16),
        "odd RGB": rng.integers(0, 256, (1, 7, 3), dtype=np.uint8),
    }
    for name, pixels in cases.items():
        data = encoded(pixels)
        with Image.open(io.BytesIO(data)) as image:
            image.verify()  # chunk CRCs and the zlib stream
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(data))), pixels, err_msg=name)
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if pixels.ndim == 3:
            decoded = cv2.cvtColor(decoded, cv2.COLOR_BGRA2RGBA if pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(decoded, pixels, err_msg=name)


def test_files_are_no_larger_than_pillows(cutout: np.ndarray) -> None:
    buffer = io.BytesIO()
    Image.fromarray(cutout).save(buffer, "PNG", compress_level=2)
    assert len(encoded(cutout, level=2)) <= 1.03 * len(buffer.getvalue())


def test_outputs_carry_their_mark_and_16_bit_alphas_survive(tmp_path: Path, cutout: np.ndarray) -> None:
    write_image(tmp_path / "cutout.png", cutout, mark="gfm matte")
    assert read_mark(tmp_path / "cutout.png") == "gfm matte"
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "cutout.png")), cutout)
    alpha = np.linspace(0, 1, 40 * 30, dtype=np.float32).reshape(30, 40)
    write_alpha(tmp_path / "alpha16.png", alpha, bits=16, mark="gfm matte")
    assert read_mark(tmp_path / "alpha16.png") == "gfm matte"
    np.testing.assert_allclose(read_alpha(tmp_path / "alpha16.png"), alpha, atol=0.5 / 65535)


def test_other_arrays_are_refused() -> None:
    for bad in (np.zeros((4, 4), np.float32), np.zeros((4, 4, 2), np.uint8), np.zeros((4, 4, 3), np.uint16), np.zeros((0, 4), np.uint8)):
        with pytest.raises(InputError):
            encoded(bad)
