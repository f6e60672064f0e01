"""Reading an encoded image from a stream (standard input, a pipe) within bounds.

``gfm matte -`` used to read all of standard input before looking at it: 4 GB
of zeros took 4.48 GB of memory before "not an image file", and
``cat /dev/zero | gfm matte - -o -`` grew until the machine ran out.
:func:`read_image_stream` reads in chunks and stops as soon as the bytes
cannot be an image file:

1. the first bytes must be the start of an image Pillow reads (its formats'
   signatures, or a header it can parse): anything else is refused at once;
2. once the header has arrived, the image's size is checked against the pixel
   limit of files (:data:`~gfm.io.images.MAX_IMAGE_PIXELS`), before any pixel
   is decoded;
3. the stream may then hold at most what an image of that size can take
   (its uncompressed pixels, plus a margin): no endless input is buffered.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from gfm.errors import InputError
from gfm.io.images import MAX_IMAGE_PIXELS, open_header

#: Bytes read at a time.
CHUNK_BYTES = 1 << 20
#: The first look: enough for every format's signature and most headers.
FIRST_BYTES = 1 << 16
#: Headers larger than this (JPEG metadata segments before the frame size) are refused.
MAX_HEADER_BYTES = 16 << 20
#: Bytes an encoded image may take beyond its raw pixels (metadata, padding, compression overhead).
MARGIN_BYTES = 8 << 20

_NOT_YET = (Image.UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error)


def _has_signature(prefix: bytes) -> bool:
    """Whether ``prefix`` starts like a file of a format Pillow reads (by the formats' own tests)."""
    Image.init()
    for _, accept in Image.OPEN.values():
        if accept is None:
            continue
        try:
            if accept(prefix):
                return True
        except Exception:  # a plugin's test on a short prefix
            continue
    return False


def encoded_limit(image: Image.Image) -> int:
    """The most bytes a file of ``image``'s size and mode can reasonably take."""
    width, height = image.size
    bands = len(image.getbands())
    bits = 16 if image.mode.startswith("I;16") else 32 if image.mode in ("I", "F") else 8
    return int(width * height * bands * bits / 8 * 1.1) + MARGIN_BYTES


def read_image_stream(stream: BinaryIO, name: str = "<stdin>", max_pixels: int = MAX_IMAGE_PIXELS, chunk_bytes: int = CHUNK_BYTES) -> bytes:
    """The bytes of one encoded image from ``stream``, read in bounded chunks.

    Args:
        stream: a binary stream (``sys.stdin.buffer``, a pipe).
        name: what messages call it.
        max_pixels: the pixel limit, checked from the header as it arrives.
        chunk_bytes: bytes read at a time.

    Returns:
        The bytes, for :func:`~gfm.io.images.decode_image` (which decodes them and
        reports a truncated file). An empty stream gives ``b""``.

    Raises:
        InputError: the first bytes are not an image's, the header is over
            :data:`MAX_HEADER_BYTES`, the image is over ``max_pixels``
            (:class:`~gfm.errors.ImageTooLargeError`), or the stream holds more than an
            image of its size can; nothing more is read.
    """
    data = bytearray()
    eof = False

    def read_until(size: int) -> None:
        nonlocal eof
        while len(data) < size and not eof:
            chunk = stream.read(min(chunk_bytes, size - len(data)))
            if not chunk:
                eof = True
            data.extend(chunk)

    read_until(FIRST_BYTES)
    if not data:
        return b""
    signature = _has_signature(bytes(data[:64]))
    limit: int | None = None
    while limit is None:
        try:
            with open_header(Path(name), bytes(data), max_pixels) as header:
                limit = encoded_limit(header)
        except InputError:
            raise  # too large, from the header
        except _NOT_YET:
            if eof:  # all there is: decode_image says what is wrong with it
                return bytes(data)
            if not signature:
                start = " ".join(f"{b:02x}" for b in data[:8])
                raise InputError(f"{name}: not an image file (it starts with the bytes {start}); "
                                 "send a PNG, JPEG, WebP, TIFF ... file's contents") from None
            if len(data) >= MAX_HEADER_BYTES:
                raise InputError(f"{name}: no image size within the first {MAX_HEADER_BYTES >> 20} MB (a corrupt file, "
                                 "or metadata larger than gfm reads); re-export the image") from None
            read_until(min(2 * len(data), MAX_HEADER_BYTES))
    while not eof:
        read_until(len(data) + chunk_bytes)
        if len(data) > limit:
            raise InputError(f"{name}: more data than an image of its size can hold (over {limit / 1e6:.3g} MB read, "
                             "and more coming); send one image file")
    return bytes(data)


__all__ = ["CHUNK_BYTES", "MAX_HEADER_BYTES", "encoded_limit", "read_image_stream"]
