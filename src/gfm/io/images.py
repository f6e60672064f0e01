"""Image and alpha-matte I/O with the conversions users expect.

* colour images come back as ``uint8`` RGB arrays of shape ``(H, W, 3)``, with
  the EXIF orientation applied and grayscale / palette / CMYK / RGBA / 16-bit
  inputs converted;
* alpha mattes come back as ``float32`` arrays of shape ``(H, W)`` in [0, 1],
  from 8-bit or 16-bit single-channel files;
* writes are atomic (see :mod:`gfm.io.atomic`).

Every failure raises :class:`gfm.errors.InputError` naming the file.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from gfm.errors import InputError
from gfm.io.atomic import atomic_write

# Refuse images larger than this many pixels (decompression-bomb guard). A
# 30000 x 30000 PNG is 900 megapixels; real photos are below 200.
MAX_IMAGE_PIXELS = 250_000_000


def _open(path: Path) -> Image.Image:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an image file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes); re-export or re-download it")
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise InputError(
            f"{path}: image too large ({error}); downscale it below "
            f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels first"
        ) from None
    except Image.UnidentifiedImageError:
        raise InputError(f"{path}: not an image file PIL can read (corrupt or unsupported format)") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise InputError(f"{path}: cannot decode image ({error}); the file may be truncated or corrupt") from None
    finally:
        Image.MAX_IMAGE_PIXELS = previous
    return image


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16 or array.dtype.kind in "iu":
        scale = 65535.0 if array.max(initial=0) > 255 else 255.0
        return np.clip(np.rint(array.astype(np.float64) / scale * 255.0), 0, 255).astype(np.uint8)
    if array.dtype.kind == "f":
        return np.clip(np.rint(array * 255.0), 0, 255).astype(np.uint8)
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    raise InputError(f"unsupported pixel type {array.dtype}")


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a colour image as RGB.

    Args:
        path: any format Pillow reads (JPEG, PNG, TIFF, WebP, BMP, ...).

    Returns:
        ``uint8`` array of shape ``(H, W, 3)``, RGB, EXIF orientation applied.
        An alpha channel, if present, is dropped (composite against nothing).
    """
    path = Path(path)
    image = _open(path)
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # broken EXIF: keep the pixels as stored
        pass
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        gray = _to_uint8(np.asarray(image))
        return np.repeat(gray[..., None], 3, axis=2)
    if mode != "RGB":
        image = image.convert("RGB")
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3:
        raise InputError(f"{path}: could not convert mode {mode!r} to RGB")
    return np.ascontiguousarray(array)


def read_alpha(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an alpha matte.

    Args:
        path: a single-channel 8-bit or 16-bit image (PNG, TIFF, JPEG). A file
            with identical colour channels (a gray matte saved as RGB) is
            accepted; one with differing channels is an error.

    Returns:
        ``float32`` array of shape ``(H, W)`` in [0, 1].
    """
    path = Path(path)
    image = _open(path)
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image).astype(np.float32)
        return np.clip(array / 65535.0, 0.0, 1.0)
    if mode == "F":
        return np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    if mode in ("L", "P", "1"):
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    if mode == "LA":
        return np.asarray(image.getchannel(0), dtype=np.float32) / 255.0
    if mode in ("RGB", "RGBA"):
        rgb = np.asarray(image.convert("RGB"))
        if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
            raise InputError(
                f"{path}: alpha matte has colour channels that differ; "
                "save the matte as a single-channel (grayscale) PNG"
            )
        return rgb[..., 0].astype(np.float32) / 255.0
    raise InputError(f"{path}: unsupported alpha mode {mode!r}; save it as 8- or 16-bit grayscale PNG")


def write_alpha(path: str | os.PathLike[str], alpha: np.ndarray, bits: int = 8) -> None:
    """Write an alpha matte atomically as a grayscale PNG.

    Args:
        path: target file (``.png``).
        alpha: ``(H, W)`` float array in [0, 1] (values outside are clipped).
        bits: 8 (default) or 16.
    """
    alpha = np.asarray(alpha, dtype=np.float32)
    if alpha.ndim != 2:
        raise InputError(f"alpha must be (H, W), got shape {alpha.shape}")
    if bits == 8:
        image = Image.fromarray(np.clip(np.rint(alpha * 255.0), 0, 255).astype(np.uint8))
    elif bits == 16:
        data = np.clip(np.rint(alpha * 65535.0), 0, 65535).astype(np.uint16)
        image = Image.fromarray(data)  # uint16 (H, W) -> mode "I;16"
    else:
        raise InputError(f"alpha bit depth must be 8 or 16, got {bits}")
    with atomic_write(path) as tmp:
        image.save(tmp, format="PNG")


def write_image(path: str | os.PathLike[str], image: np.ndarray, quality: int = 95) -> None:
    """Write an RGB ``(H, W, 3)`` or RGBA ``(H, W, 4)`` ``uint8`` image atomically.

    The format follows the suffix (PNG for cutouts with alpha; JPEG allowed
    for RGB only).
    """
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4):
        raise InputError(f"image must be uint8 (H, W, 3|4), got {image.dtype} {image.shape}")
    mode = "RGB" if image.shape[2] == 3 else "RGBA"
    suffix = Path(path).suffix.lower()
    pil = Image.fromarray(image)
    with atomic_write(path) as tmp:
        if suffix in (".jpg", ".jpeg"):
            if mode == "RGBA":
                raise InputError(f"{path}: JPEG cannot store transparency; use .png")
            pil.save(tmp, format="JPEG", quality=quality)
        else:
            pil.save(tmp, format="PNG")
