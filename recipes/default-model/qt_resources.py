"""A reader for Qt binary resource bundles (``.rcc``, formats 1 to 3).

GCompris ships its activities' pictures inside such bundles. The layout
(Qt's ``rcc`` tool, ``src/corelib/io/qresource.cpp``): a header ``qres``,
format version, then offsets of the tree, the data and the names. Tree nodes
are 14 bytes (format 1) or 22 bytes (with a modification time, formats 2-3):
name offset, flags, then a directory's child count and first child, or a
file's locale and data offset. A file's data is a 4-byte big-endian length and
the bytes; zlib-compressed files (flag 1) start with the uncompressed length.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

_COMPRESSED, _DIRECTORY, _COMPRESSED_ZSTD = 0x01, 0x02, 0x04


class ResourceError(ValueError):
    """The file is not a Qt resource bundle this reader understands."""


def _u16(buf: bytes, at: int) -> int:
    return struct.unpack_from(">H", buf, at)[0]


def _u32(buf: bytes, at: int) -> int:
    return struct.unpack_from(">I", buf, at)[0]


def iter_resources(path: str | Path) -> Iterator[tuple[str, bytes]]:
    """Yield ``(resource path, bytes)`` of every file in an ``.rcc`` bundle.

    Raises:
        ResourceError: not a bundle, an unknown format, or a zstd entry.
    """
    buf = Path(path).read_bytes()
    if buf[:4] != b"qres":
        raise ResourceError(f"{path}: not a Qt resource bundle (no 'qres' magic)")
    version = _u32(buf, 4)
    if version not in (1, 2, 3):
        raise ResourceError(f"{path}: Qt resource format {version} is not supported (1-3 are)")
    tree, data, names = _u32(buf, 8), _u32(buf, 12), _u32(buf, 16)
    node_size = 14 if version == 1 else 22

    def name_at(offset: int) -> str:
        length = _u16(buf, names + offset)
        start = names + offset + 6  # length, then a 4-byte hash, then UTF-16BE
        return buf[start : start + 2 * length].decode("utf-16-be")

    def walk(node: int, prefix: str) -> Iterator[tuple[str, bytes]]:
        at = tree + node * node_size
        name = name_at(_u32(buf, at)) if node else ""
        flags = _u16(buf, at + 4)
        path_here = f"{prefix}/{name}" if name else prefix
        if flags & _DIRECTORY:
            count, first = _u32(buf, at + 6), _u32(buf, at + 10)
            for child in range(first, first + count):
                yield from walk(child, path_here)
            return
        offset = data + _u32(buf, at + 10)
        size = _u32(buf, offset)
        payload = buf[offset + 4 : offset + 4 + size]
        if flags & _COMPRESSED_ZSTD:
            raise ResourceError(f"{path}: {path_here} is zstd-compressed, which this reader does not handle")
        if flags & _COMPRESSED:
            payload = zlib.decompress(payload[4:])
        yield path_here, payload

    yield from walk(0, "")
