"""Reading and writing images, alpha mattes and files, safely."""

from gfm.io.atomic import atomic_write
from gfm.io.images import decode_image, image_to_rgb, read_alpha, read_image
from gfm.io.writers import write_alpha, write_image

__all__ = ["atomic_write", "decode_image", "image_to_rgb", "read_alpha", "read_image", "write_alpha", "write_image"]
