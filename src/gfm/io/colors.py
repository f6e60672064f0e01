"""Colours as users type them: the one parser of ``--background``, the API's
``background`` and ``bgc``, and the page (which sends its colour to the API).

Accepted, case-insensitive, surrounding spaces ignored:

* every CSS colour name Pillow knows (``white``, ``purple``, ``rebeccapurple``,
  ... 148 names; ``green`` is CSS green, ``#008000``: chroma-key green is
  ``#00b140``);
* ``#rgb``, ``#rgba``, ``#rrggbb``, ``#rrggbbaa``;
* ``rgb(0,177,64)``, ``rgb(0%,69%,25%)``, ``rgba(0,177,64,128)``, ``hsl(...)``,
  ``hsv(...)`` (Pillow's :func:`PIL.ImageColor.getrgb` syntax);
* ``r,g,b`` and ``r,g,b,a`` with each value in 0..255 (rembg's ``bgc``).

Example::

    >>> parse_rgba("#fff")
    (255, 255, 255, 255)
    >>> parse_rgb("rgb(0,177,64)")
    (0, 177, 64)
"""

from __future__ import annotations

from PIL import ImageColor

from gfm.errors import InputError

RGB = tuple[int, int, int]
RGBA = tuple[int, int, int, int]

#: How the accepted forms are described in messages and help texts.
COLOUR_FORMS = "a CSS colour name (white, purple ...), #rgb, #rrggbb, rgb(r,g,b) or r,g,b"


def parse_rgba(text: str) -> RGBA:
    """A colour as ``(r, g, b, a)``, each 0..255 (``a`` is 255 unless the text gives one).

    Raises:
        InputError: the text is none of the accepted forms (the message names
            the text and the forms).
    """
    value = text.strip().lower()
    if value[:1].isdigit() or value.startswith("-"):
        parts = [p.strip() for p in value.split(",")]
        try:
            numbers = [int(p) for p in parts]
        except ValueError:
            numbers = []
        if len(numbers) in (3, 4) and all(0 <= n <= 255 for n in numbers):
            return (numbers[0], numbers[1], numbers[2], numbers[3] if len(numbers) == 4 else 255)
        raise InputError(f"cannot read colour {text!r}: r,g,b (or r,g,b,a) takes three (or four) whole numbers "
                         f"from 0 to 255; or give {COLOUR_FORMS}")
    try:
        colour = ImageColor.getrgb(value)
    except ValueError:
        raise InputError(f"cannot read colour {text!r}; give {COLOUR_FORMS}") from None
    if len(colour) == 3:
        return (colour[0], colour[1], colour[2], 255)
    return (colour[0], colour[1], colour[2], colour[3])


def parse_rgb(text: str) -> RGB:
    """A colour as ``(r, g, b)`` (see :func:`parse_rgba`; a transparency part is dropped).

    Raises:
        InputError: as :func:`parse_rgba`.
    """
    r, g, b, _ = parse_rgba(text)
    return (r, g, b)


__all__ = ["COLOUR_FORMS", "RGB", "RGBA", "parse_rgb", "parse_rgba"]
