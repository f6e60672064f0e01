"""The one colour parser of --background, the API's background and bgc (gfm.io.colors)."""

from __future__ import annotations

import pytest

from gfm.errors import InputError
from gfm.inference.foreground import parse_background, parse_color
from gfm.io.colors import parse_rgb, parse_rgba


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("purple", (128, 0, 128, 255)),  # a CSS name the old six-name table refused
        ("RebeccaPurple", (102, 51, 153, 255)),
        ("green", (0, 128, 0, 255)),  # CSS green, no longer a hidden chroma green
        ("#fff", (255, 255, 255, 255)),
        ("#00b140", (0, 177, 64, 255)),
        ("#00b14080", (0, 177, 64, 128)),
        ("rgb(0,177,64)", (0, 177, 64, 255)),
        ("rgb(0, 177, 64)", (0, 177, 64, 255)),
        ("rgba(0,177,64,128)", (0, 177, 64, 128)),
        ("0,177,64", (0, 177, 64, 255)),
        (" 255, 0, 0, 0 ", (255, 0, 0, 0)),  # rembg's bgc: r,g,b,a
    ],
)
def test_css_colours_and_rembg_tuples(text: str, expected: tuple[int, int, int, int]) -> None:
    assert parse_rgba(text) == expected
    assert parse_rgb(text) == expected[:3]
    assert parse_color(text) == expected[:3]  # the CLI's and the API's entry point is the same parser


@pytest.mark.parametrize("text", ["notacolour", "#12", "256,0,0", "1,2", "-1,0,0", "rgb(1,2)", ""])
def test_bad_colours_name_the_value_and_the_forms(text: str) -> None:
    with pytest.raises(InputError, match="cannot read colour") as caught:
        parse_rgba(text)
    assert repr(text) in str(caught.value) and "#rrggbb" in str(caught.value)


def test_background_names_an_image_or_a_colour(tmp_path) -> None:
    assert parse_background("purple") == (128, 0, 128)
    with pytest.raises(InputError, match="no such image file"):
        parse_background(str(tmp_path / "missing.jpg"))
