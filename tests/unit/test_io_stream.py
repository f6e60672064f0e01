"""Standard input read in bounded chunks (gfm.io.stream) and atomic writes that name their target."""

from __future__ import annotations

import errno
import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gfm.errors import ImageTooLargeError, InputError
from gfm.io.atomic import atomic_write
from gfm.io.stream import read_image_stream


class Endless(io.RawIOBase):
    """``prefix`` then zeros for ever; counts the bytes handed out."""

    def __init__(self, prefix: bytes = b"") -> None:
        self.prefix = prefix
        self.given = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        assert size > 0, "read everything: unbounded"
        if self.prefix:
            out, self.prefix = self.prefix[:size], self.prefix[size:]
        else:
            out = b"\0" * size
        self.given += len(out)
        return out


def _encoded(fmt: str, shape: tuple[int, ...] = (300, 200, 3)) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)).save(buffer, format=fmt)
    return buffer.getvalue()


def test_zeros_are_refused_at_the_first_bytes() -> None:
    """4 GB of zeros took 4.48 GB of memory before "not an image file"."""
    stream = Endless()
    with pytest.raises(InputError, match=r"<stdin>: not an image file \(it starts with the bytes 00 00"):
        read_image_stream(stream)
    assert stream.given <= 1 << 16


def test_an_image_header_followed_by_endless_data_is_cut_off() -> None:
    stream = Endless(_encoded("PNG", (10, 10, 3)))
    with pytest.raises(InputError, match="more data than an image of its size can hold"):
        read_image_stream(stream)
    assert stream.given < 10 << 20  # a 10x10 image: a few bytes plus the margin, not the whole stream


def test_the_pixel_limit_of_files_applies_from_the_header() -> None:
    stream = Endless(_encoded("PNG", (300, 200)))
    with pytest.raises(ImageTooLargeError, match="300 = 0.06 megapixels"):
        read_image_stream(stream, max_pixels=1000)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF", "BMP", "WEBP", "GIF", "TGA"])
def test_every_format_comes_through_whole(fmt: str) -> None:
    data = _encoded(fmt)
    assert read_image_stream(io.BytesIO(data), chunk_bytes=4096) == data


def test_short_and_empty_streams_are_left_to_the_decoder() -> None:
    assert read_image_stream(io.BytesIO(b"")) == b""
    assert read_image_stream(io.BytesIO(b"hello")) == b"hello"  # decode_image: "not an image file"


def test_atomic_write_names_the_target_not_its_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exporting to a read-only folder named the internal temporary file instead of the target."""
    target = tmp_path / "model.onnx"

    def read_only(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / ".model.onnx.abcd1234.tmp.onnx"))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(PermissionError) as raised, atomic_write(target):
        pass
    assert raised.value.filename == str(target) and raised.value.errno == errno.EACCES
    monkeypatch.undo()
    with pytest.raises(OSError) as full, atomic_write(target) as tmp:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp))
    assert full.value.filename == str(target) and not list(tmp_path.iterdir())
