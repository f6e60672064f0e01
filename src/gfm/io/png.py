"""A fast PNG writer for mattes and cutouts.

Pillow's PNG encoder chooses a filter for every row by trying them all, and
deflates on one thread: a 1620x1080 RGBA cutout took 82 ms at zlib level 2
here. This writer uses the "Up" filter for every row (a NumPy subtraction),
which suits photographs and mattes as well (the same cutout's file is 1 %
smaller), and deflates bands of rows on several threads (zlib releases the
GIL), each band ending with a full flush so that the bands join into one
valid zlib stream, as pigz does: 24-29 ms for that cutout, 4 ms for its
8-bit alpha (Pillow: 11 ms).

Memory stays bounded whatever the image's size: at most a few bands of
:data:`BAND_BYTES` are filtered or being compressed at a time.
"""

from __future__ import annotations

import os
import struct
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

import numpy as np

from gfm.errors import InputError

# Raw (filtered) bytes deflated as one piece: large enough for zlib to work well,
# small enough that a 250-megapixel cutout needs little more memory than its pixels.
BAND_BYTES = 1 << 20

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOUR_TYPES = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type (grey, RGB, RGBA)
_FILTER_UP = 2
_WORKERS = max(1, min(4, os.cpu_count() or 1))
_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="gfm-png")
    return _POOL


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def _up_filtered(rows: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """Rows ``(n, row_bytes)`` uint8 as PNG scanlines with the Up filter (each byte
    minus the one above; ``previous`` is the row above the first, or None at the top)."""
    out = np.empty((rows.shape[0], rows.shape[1] + 1), np.uint8)
    out[:, 0] = _FILTER_UP
    np.subtract(rows[1:], rows[:-1], out=out[1:, 1:])
    if previous is None:
        out[0, 1:] = rows[0]
    else:
        np.subtract(rows[0], previous, out=out[0, 1:])
    return out


def _deflate(data: np.ndarray, level: int, last: bool) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)  # raw deflate: the zlib header is written once
    return compressor.compress(data) + compressor.flush(zlib.Z_FINISH if last else zlib.Z_FULL_FLUSH)


def write_png(file: BinaryIO, pixels: np.ndarray, *, level: int = 2, text: dict[str, str] | None = None) -> None:
    """Write ``pixels`` to ``file`` as a PNG.

    Args:
        file: a binary file open for writing.
        pixels: ``(H, W)`` uint8 or uint16 grey, ``(H, W, 3)`` uint8 RGB or
            ``(H, W, 4)`` uint8 RGBA.
        level: zlib level, 0-9.
        text: ``tEXt`` entries (Latin-1), e.g. ``{"Software": "gfm matte"}``.

    Raises:
        InputError: an array of another shape or type.
    """
    channels = 1 if pixels.ndim == 2 else (pixels.shape[2] if pixels.ndim == 3 else 0)
    if channels not in _COLOUR_TYPES or pixels.dtype not in (np.uint8, np.uint16) or (pixels.dtype == np.uint16 and channels != 1):
        raise InputError(f"write_png takes (H, W) uint8/uint16, (H, W, 3) or (H, W, 4) uint8, got {pixels.dtype} {pixels.shape}")
    height, width = pixels.shape[:2]
    if height == 0 or width == 0:
        raise InputError(f"cannot write an empty image ({width}x{height}) as PNG")
    depth = 16 if pixels.dtype == np.uint16 else 8
    if depth == 16:
        pixels = pixels.astype(">u2", copy=False)  # PNG stores 16-bit samples big-endian
    rows = np.ascontiguousarray(pixels).view(np.uint8).reshape(height, -1)
    band_rows = max(1, BAND_BYTES // rows.shape[1])
    header = struct.pack(">IIBBBBB", width, height, depth, _COLOUR_TYPES[channels], 0, 0, 0)
    file.write(_SIGNATURE + _chunk(b"IHDR", header))
    for key, value in (text or {}).items():
        file.write(_chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1", "replace")))
    file.write(_chunk(b"IDAT", b"\x78\x01"))  # zlib header; the IDAT chunks together hold one zlib stream
    adler = 1
    pending: list[Future[bytes]] = []
    limit = _WORKERS + 1  # bands in flight: bounded memory
    for top in range(0, height, band_rows):
        band = rows[top : top + band_rows]
        data = _up_filtered(band, rows[top - 1] if top else None)
        adler = zlib.adler32(data, adler)
        pending.append(_pool().submit(_deflate, data, level, top + band_rows >= height))
        del data
        while len(pending) >= limit:
            file.write(_chunk(b"IDAT", pending.pop(0).result()))
    for future in pending:
        file.write(_chunk(b"IDAT", future.result()))
    file.write(_chunk(b"IDAT", struct.pack(">I", adler)) + _chunk(b"IEND", b""))


__all__ = ["BAND_BYTES", "write_png"]
