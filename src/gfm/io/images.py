"""Image and alpha-matte I/O with the conversions users expect.

* colour images come back as ``uint8`` RGB arrays of shape ``(H, W, 3)``, with
  the EXIF orientation applied and grayscale / palette / CMYK / RGBA / 16-bit
  inputs converted;
* alpha mattes come back as ``float32`` arrays of shape ``(H, W)`` in [0, 1],
  from 8-bit or 16-bit single-channel files;
* writing (alphas, images, the outputs' mark) is :mod:`gfm.io.writers`: atomic
  (see :mod:`gfm.io.atomic`).

Every read failure raises :class:`gfm.errors.InputError` naming the file; a
write that fails raises :class:`gfm.errors.OutputError` and leaves nothing
behind.
"""

from __future__ import annotations

import io
import os
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from gfm.errors import ImageTooLargeError, InputError
from gfm.io.paths import broken_link_message, special_file_message


# Refuse images larger than this many pixels (decompression-bomb guard). A
# 30000 x 30000 PNG is 900 megapixels; real photos are below 200.
MAX_IMAGE_PIXELS = 250_000_000

# Pillow's own bomb guard is a process-wide setting; we lower or raise it only
# while parsing a header, under this lock, so threads do not restore each
# other's values in the wrong order.
_PIL_LIMIT_LOCK = threading.Lock()

# Modes (or palette / gray images with a transparency key) whose alpha
# read_image drops.
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})



def too_large_message(path: Path, width: int, height: int, max_pixels: int = MAX_IMAGE_PIXELS) -> str:
    """The one message for an image over the pixel limit (every command says the same)."""
    return (
        f"{path}: image too large ({width} x {height} = {width * height / 1e6:.3g} megapixels); gfm reads images "
        f"up to {max_pixels / 1e6:.3g} megapixels: downscale it first"
    )


def open_header(path: str | os.PathLike[str], data: bytes | None = None, max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """``Image.open`` (the header: no pixels decoded) with gfm's one size limit.

    Pillow's own decompression-bomb guard (a process-wide setting, with limits
    of its own) is off while the header is parsed; the size is checked here
    against ``max_pixels`` (default :data:`MAX_IMAGE_PIXELS`) instead, so every
    command accepts the same images and refuses the others with the same message.

    Args:
        data: the encoded image (an upload), named ``path`` in messages; None reads ``path``.

    Raises:
        ImageTooLargeError: the image is over ``max_pixels`` (an :class:`InputError`).
        OSError, SyntaxError, ValueError: what Pillow raises on unreadable files.
    """
    path = Path(path)
    with _PIL_LIMIT_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        previous = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            image = Image.open(path if data is None else io.BytesIO(data))
        finally:
            Image.MAX_IMAGE_PIXELS = previous
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise ImageTooLargeError(too_large_message(path, width, height, max_pixels))
    return image


def _open(path: Path, data: bytes | None = None, max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """Open and decode ``path``, or the encoded ``data`` (an upload, stdin) named ``path`` in messages;
    refuse images over ``max_pixels`` from their header, before decoding."""
    if data is not None:
        if not data:
            raise InputError(f"{path}: no data (it is empty: 0 bytes); send the image file's contents")
    elif not path.exists():
        raise InputError(broken_link_message(path) or f"{path}: no such file")
    elif path.is_dir():
        raise InputError(f"{path}: is a folder, not an image file")
    elif special_file_message(path):
        raise InputError(special_file_message(path))
    elif path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes); re-export or re-download it")
    try:
        image = open_header(path, data, max_pixels)
        try:
            image.load()
        except BaseException:
            image.close()  # a failed decode would otherwise leak the file handle
            raise
    except Image.UnidentifiedImageError:
        raise InputError(f"{path}: not an image file PIL can read (corrupt or unsupported format)") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied; check the file's read permission") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as error:
        raise InputError(f"{path}: cannot decode image ({error}); the file may be truncated or corrupt") from None
    return image


def _exif_transpose(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation tag, if any (no-op without one)."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # broken EXIF block: keep the pixels as stored
        return image


def _gray_to_uint8(image: Image.Image) -> np.ndarray:
    """Scale a 16-bit, 32-bit integer or float gray image to ``uint8``.

    ``I;16*`` and ``I`` (Pillow's mode for 16-bit data of some formats) are
    taken as 0..65535, whatever their actual maximum (a dark 16-bit photo stays
    dark); ``F`` is taken as 0..1. Values outside are clipped.
    """
    array = np.asarray(image)
    if image.mode == "F":
        scaled = array.astype(np.float64) * 255.0
    else:
        scaled = array.astype(np.float64) * (255.0 / 65535.0)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a colour image as RGB.

    Args:
        path: any format Pillow reads (JPEG, PNG, TIFF, WebP, BMP, ...).

    Returns:
        ``uint8`` array of shape ``(H, W, 3)``, RGB, EXIF orientation applied.
        Gray, palette, CMYK and 16-bit inputs are converted (16-bit gray is
        scaled from 0..65535). An alpha channel or transparency key, if
        present, is dropped (the colour values are kept as stored, not
        composited) and a :class:`UserWarning` naming the file says so.

    Raises:
        InputError: missing, empty, truncated, corrupt, non-image or too large
            (over :data:`MAX_IMAGE_PIXELS`) file; the message names it.
    """
    path = Path(path)
    with _open(path) as opened:  # closes the file of multi-frame images too
        return _to_rgb(opened, path)


def decode_image(data: bytes, name: str = "<stdin>", max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """:func:`read_image` for an encoded image held in memory (an upload, stdin, bytes).

    Same conversions and messages as :func:`read_image`. Images over
    ``max_pixels`` are refused from their header, before any pixel is decoded.
    Nothing is written to disk.

    Args:
        data: the bytes of a PNG, JPEG, ... file.
        name: what error messages call it (e.g. ``"<stdin>"``, an upload's field name).
        max_pixels: the size limit (default :data:`MAX_IMAGE_PIXELS`).

    Returns:
        ``uint8 (H, W, 3)`` RGB, as :func:`read_image`.

    Raises:
        InputError: empty, truncated, corrupt, non-image or too large
            (:class:`~gfm.errors.ImageTooLargeError`) data.
    """
    with _open(Path(name), data, max_pixels) as opened:
        return _to_rgb(opened, name)


def image_to_rgb(image: Image.Image, name: str = "image") -> np.ndarray:
    """A PIL image as ``uint8 (H, W, 3)`` RGB with :func:`read_image`'s conversions
    (EXIF orientation, gray / palette / CMYK / 16-bit; an alpha channel dropped
    with a warning)."""
    return _to_rgb(image, name)


def _to_rgb(image: Image.Image, path: Path | str) -> np.ndarray:
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        warnings.warn(
            f"{path}: the image has an alpha channel (mode {image.mode}); it is ignored "
            "and only the colour channels are used",
            UserWarning,
            stacklevel=3,  # the caller of read_image
        )
    image = _exif_transpose(image)
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        gray = _gray_to_uint8(image)
        return np.repeat(gray[..., None], 3, axis=2)
    try:
        if mode != "RGB":
            image = image.convert("RGB")
        array = np.asarray(image)
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: cannot convert mode {mode!r} to RGB ({error})") from None
    if array.ndim != 3 or array.shape[2] != 3:
        raise InputError(f"{path}: could not convert mode {mode!r} to RGB")
    return np.ascontiguousarray(array)


def read_alpha(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an alpha matte.

    Args:
        path: a single-channel 8-bit or 16-bit image (PNG, TIFF, JPEG). A file
            with identical colour channels (a gray matte saved as RGB or as a
            gray palette) is accepted; one with differing channels is an error.
            An EXIF orientation tag in the matte file is applied, as
            :func:`read_image` does for photos.

    Returns:
        ``float32`` array of shape ``(H, W)`` in [0, 1] (8-bit files divided by
        255, 16-bit by 65535, float files clipped).

    Raises:
        InputError: unreadable file (as :func:`read_image`), colour matte,
            NaN values, or an unsupported mode; the message names the file.
    """
    path = Path(path)
    with _open(path) as opened:  # closes the file of multi-frame images too
        return _to_alpha(_exif_transpose(opened), path)


def _to_alpha(image: Image.Image, path: Path) -> np.ndarray:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        array = np.asarray(image).astype(np.float32)
        return np.clip(array / 65535.0, 0.0, 1.0)
    if mode == "F":
        array = np.asarray(image, dtype=np.float32)
        if np.isnan(array).any():
            raise InputError(f"{path}: alpha matte contains NaN values")
        return np.clip(array, 0.0, 1.0)
    if mode in ("L", "1"):
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    if mode == "LA":
        return np.asarray(image.getchannel(0), dtype=np.float32) / 255.0
    if mode in ("RGB", "RGBA", "P", "PA"):
        rgb = np.asarray(image.convert("RGB"))
        if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
            raise InputError(
                f"{path}: alpha matte has colour channels that differ; "
                "save the matte as a single-channel (grayscale) PNG"
            )
        return rgb[..., 0].astype(np.float32) / 255.0
    raise InputError(f"{path}: unsupported alpha mode {mode!r}; save it as 8- or 16-bit grayscale PNG")
