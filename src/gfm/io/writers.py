"""Writing alpha mattes and images: atomic, marked, in bands.

* :func:`write_alpha`: ``(H, W)`` float alpha in [0, 1] as an 8- or 16-bit gray PNG;
* :func:`write_image`: ``uint8`` RGB / RGBA / gray arrays in the format of the suffix;
* every output can carry a mark (PNG ``Software`` text, JPEG comment, WebP EXIF
  ``Software``), read back by :func:`read_mark`: how ``gfm matte`` knows its own files;
* writes are atomic (:mod:`gfm.io.atomic`): a failure leaves nothing behind and
  raises :class:`gfm.errors.OutputError` naming the file.

Reading is :mod:`gfm.io.images`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, PngImagePlugin

from gfm.errors import InputError, OutputError
from gfm.io.atomic import FileStamp, atomic_write
from gfm.io.images import _PIL_LIMIT_LOCK
from gfm.io.png import write_png

# zlib level of PNG outputs. Pillow's default (6) spent 0.59 s on a 1620x1080 RGBA
# cutout here, level 2 0.12 s for a file about 15% larger; gfm.io.png writes it
# at level 2 in 24-29 ms on two cores.
PNG_COMPRESS_LEVEL = 2

# Output suffix -> Pillow format for write_image.
_WRITE_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}
_NO_ALPHA_FORMATS = frozenset({"JPEG", "BMP"})


# Conversions of full-resolution alphas run in bands of this many pixels: no
# full-size float temporaries (a 250-megapixel alpha would need three of 1 GB).
_BAND_PIXELS = 1 << 20


def alpha_to_uint8(alpha: np.ndarray, dtype: type[np.unsignedinteger] = np.uint8) -> np.ndarray:
    """``(H, W)`` float alpha in [0, 1] -> integers 0..255 (``uint8``) or 0..65535 (``uint16``).

    Rounded to nearest, values outside [0, 1] clipped; computed in bands of
    rows, so the only full-size array is the result.
    """
    top_value = float(np.iinfo(dtype).max)
    out = np.empty(alpha.shape, dtype)
    width = alpha.shape[1] if alpha.ndim == 2 else 1
    step = max(1, _BAND_PIXELS // max(1, width))
    for top in range(0, alpha.shape[0], step):
        band = alpha[top : top + step] * np.float32(top_value)
        np.rint(band, out=band)
        np.clip(band, 0, top_value, out=band)
        out[top : top + step] = band
    return out


def write_alpha(
    path: str | os.PathLike[str] | BinaryIO,
    alpha: np.ndarray,
    bits: int = 8,
    *,
    replace: bool | FileStamp = True,
    mark: str | None = None,
) -> None:
    """Write an alpha matte atomically as a grayscale PNG.

    Args:
        path: target file (``.png``; the format is PNG whatever the suffix), or an
            open binary stream (standard output) that the PNG is written to.
        alpha: ``(H, W)`` float array in [0, 1] (values outside are clipped).
        bits: 8 (default) or 16.
        replace: what may be replaced at ``path`` (see :func:`gfm.io.atomic.atomic_write`).
        mark: stored as the PNG ``Software`` text (read back by :func:`read_mark`).

    Raises:
        InputError: wrong shape, NaN values or bit depth.
        OutputError: the file cannot be written; nothing is left at ``path``.
        OutputClashError: ``replace`` forbade replacing the file found at ``path``.
    """
    alpha = np.asarray(alpha, dtype=np.float32)
    if alpha.ndim != 2:
        raise InputError(f"alpha must be (H, W), got shape {alpha.shape}")
    if np.isnan(alpha.max(initial=0.0)):  # NaN propagates through max: no full-size mask
        raise InputError(f"{path}: alpha contains NaN values; refusing to write it")
    if bits == 8:
        image = Image.fromarray(alpha_to_uint8(alpha))
    elif bits == 16:
        image = Image.fromarray(alpha_to_uint8(alpha, np.uint16))  # uint16 (H, W) -> mode "I;16"
    else:
        raise InputError(f"alpha bit depth must be 8 or 16, got {bits}")
    _save(image, path, "PNG", {"compress_level": PNG_COMPRESS_LEVEL}, replace, mark)


def write_image(
    path: str | os.PathLike[str] | BinaryIO,
    image: np.ndarray,
    quality: int | None = 95,
    *,
    replace: bool | FileStamp = True,
    mark: str | None = None,
    suffix: str | None = None,
) -> None:
    """Write an RGB ``(H, W, 3)`` or RGBA ``(H, W, 4)`` ``uint8`` image atomically.

    The format follows the suffix: ``.png``, ``.webp``, ``.tif``/``.tiff``
    (RGB or RGBA), ``.jpg``/``.jpeg``, ``.bmp`` (RGB only). ``quality``
    (1..100) applies to JPEG and WebP; ``None`` writes a lossless WebP (and
    a JPEG at 95). A lossy WebP keeps its alpha channel lossless. ``replace`` says what may be replaced
    at ``path`` (see :func:`gfm.io.atomic.atomic_write`); ``mark`` is stored
    as the PNG ``Software`` text, the JPEG comment or the WebP's EXIF
    ``Software`` tag (see :func:`read_mark`). ``path`` may be an open binary
    stream (standard output), with the format's ``suffix`` (e.g. ``".png"``).

    Raises:
        InputError: wrong dtype or shape, or RGBA to a format without alpha.
        OutputError: unknown suffix, or the file cannot be written; nothing is
            left at ``path`` on failure.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4):
        raise InputError(f"image must be uint8 (H, W, 3|4), got {image.dtype} {image.shape}")
    suffix = ((suffix or "") if hasattr(path, "write") else Path(path).suffix).lower()  # type: ignore[arg-type]
    fmt = _WRITE_FORMATS.get(suffix)
    if fmt is None:
        known = ", ".join(sorted(_WRITE_FORMATS))
        raise OutputError(f"{path}: unknown image suffix {suffix!r}; use one of {known}")
    if image.shape[2] == 4 and fmt in _NO_ALPHA_FORMATS:
        raise InputError(f"{path}: {fmt} cannot store transparency; use .png")
    options: dict[str, object] = {}
    if quality is not None and not 1 <= int(quality) <= 100:
        raise InputError(f"{path}: quality must be 1..100, got {quality}")
    if fmt == "WEBP" and quality is None:
        options["lossless"] = True
    elif fmt in ("JPEG", "WEBP"):
        options["quality"] = 95 if quality is None else int(quality)
    elif fmt == "PNG":
        options["compress_level"] = PNG_COMPRESS_LEVEL
    _save(Image.fromarray(image), path, fmt, options, replace, mark)


def _save(
    image: Image.Image,
    path: str | os.PathLike[str] | BinaryIO,
    fmt: str,
    options: dict[str, object],
    replace: bool | FileStamp = True,
    mark: str | None = None,
) -> None:
    if hasattr(path, "write"):  # a stream: encoded straight into it (no file, nothing to rename)
        _encode(image, path, fmt, options, mark)  # type: ignore[arg-type]
        return
    try:
        with atomic_write(path, replace=replace) as tmp:
            _encode(image, tmp, fmt, options, mark)
    except OSError as error:
        raise OutputError(
            f"{path}: cannot write ({error.strerror or error}); check that the folder "
            "is writable and the disk has space"
        ) from None


# EXIF tag 0x0131 "Software": where a WebP output carries its mark.
_EXIF_SOFTWARE = 0x0131

# Modes gfm.io.png writes: the same pixels about 3x faster than Pillow's PNG encoder, files no larger.
_FAST_PNG_MODES = ("L", "RGB", "RGBA", "I;16")


def _encode(image: Image.Image, target: Path | BinaryIO, fmt: str, options: dict[str, object], mark: str | None) -> None:
    """Write ``image`` to ``target`` (a path or a binary stream) as ``fmt``; ``mark`` goes in a PNG's
    Software text or a JPEG's comment."""
    if fmt == "PNG" and image.mode in _FAST_PNG_MODES:
        level = int(options.get("compress_level", PNG_COMPRESS_LEVEL))  # type: ignore[call-overload]
        text = {"Software": mark} if mark is not None else None
        if hasattr(target, "write"):
            write_png(target, np.asarray(image), level=level, text=text)  # type: ignore[arg-type]
            return
        with open(target, "wb") as file:  # type: ignore[arg-type]
            write_png(file, np.asarray(image), level=level, text=text)
        return
    if mark is not None and fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_text("Software", mark)
        options = {**options, "pnginfo": info}
    elif mark is not None and fmt == "JPEG":
        options = {**options, "comment": mark.encode()}
    elif mark is not None and fmt == "WEBP":  # WebP has no text chunk: EXIF's Software tag
        exif = Image.Exif()
        exif[_EXIF_SOFTWARE] = mark
        options = {**options, "exif": exif.tobytes()}
    image.save(target, format=fmt, **options)


def read_mark(path: str | os.PathLike[str]) -> str | None:
    """The mark :func:`write_image` / :func:`write_alpha` stored in a PNG, JPEG or WebP, or ``None``.

    Reads the header only (PNG text chunks before the pixels, the JPEG
    comment, the WebP's EXIF ``Software`` tag); any file that cannot be read
    as an image has no mark.
    """
    try:
        with _PIL_LIMIT_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            previous = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None  # header only: no pixels are decoded here, any size is fine
            try:
                image = Image.open(path)
            finally:
                Image.MAX_IMAGE_PIXELS = previous
        with image:
            if image.format == "PNG":
                value = image.info.get("Software")
            elif image.format == "WEBP":
                value = image.getexif().get(_EXIF_SOFTWARE)
            else:
                value = image.info.get("comment")
    except (OSError, SyntaxError, ValueError):
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None
