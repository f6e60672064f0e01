"""gfm.inference.pipeline.read_ahead: the next image is decoded while the current one is worked on,
in order, one failure per item, and never two large images at once."""

from __future__ import annotations

import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gfm.errors import InputError
from gfm.inference import batch_writer as batch_module
from gfm.inference.batch import MatteJob
from gfm.inference.pipeline import ALPHA_WARNING, LoadedImage, load_job_image, read_ahead


def _image(value: int, side: int = 4) -> LoadedImage:
    return LoadedImage(np.full((side, side, 3), value, np.uint8))


@pytest.mark.parametrize("threaded", [True, False])
def test_items_come_in_order_with_their_own_failures(threaded: bool) -> None:
    def read(i: int) -> LoadedImage | None:
        if i == 2:
            raise InputError("photo2.jpg: broken")
        return None if i == 3 else _image(i)

    got = list(read_ahead(range(5), read, threaded=threaded))
    assert [item for item, _, _ in got] == [0, 1, 2, 3, 4]
    assert [int(loaded.image[0, 0, 0]) if loaded else None for _, loaded, _ in got] == [0, 1, None, None, 4]
    assert [str(error) if error else None for _, _, error in got] == [None, None, "photo2.jpg: broken", None, None]


def test_the_next_image_is_read_while_the_current_one_is_worked_on() -> None:
    started = {i: threading.Event() for i in range(3)}

    def read(i: int) -> LoadedImage:
        started[i].set()
        return _image(i)

    items = read_ahead(range(3), read)
    first, _, _ = next(items)
    assert first == 0
    assert started[1].wait(5)  # read on the thread before the caller asks for it
    assert not started[2].is_set()  # one ahead, no more
    assert [i for i, _, _ in items] == [1, 2]


def test_no_read_ahead_while_a_large_image_is_in_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gfm.inference.pipeline.OVERLAP_MAX_PIXELS", 50)  # 8x8 = 64 pixels is "large"
    assert batch_module.OVERLAP_MAX_PIXELS > 50  # only the pipeline's threshold is changed
    started = {i: threading.Event() for i in range(3)}

    def read(i: int) -> LoadedImage:
        started[i].set()
        return _image(i, side=8 if i == 0 else 4)

    items = read_ahead(range(3), read)
    assert next(items)[0] == 0
    assert not started[1].wait(0.3)  # the large image 0 is alone in memory
    assert next(items)[0] == 1
    assert started[2].wait(5)  # image 1 is small: image 2 is read ahead again


def test_load_job_image_notes_a_dropped_alpha_channel(tmp_path: Path) -> None:
    rgba, rgb = tmp_path / "rgba.png", tmp_path / "rgb.jpg"
    Image.new("RGBA", (6, 4), (10, 20, 30, 128)).save(rgba)
    Image.new("RGB", (6, 4), (10, 20, 30)).save(rgb)
    with warnings.catch_warnings():
        warnings.filterwarnings("error")
        warnings.filterwarnings("ignore", message=ALPHA_WARNING)  # as gfm matte does around its loop
        loaded = load_job_image(MatteJob(rgba, Path("rgba")))
        plain = load_job_image(MatteJob(rgb, Path("rgb")))
    assert loaded.dropped_alpha and loaded.image.shape == (4, 6, 3) and tuple(loaded.image[0, 0]) == (10, 20, 30)
    assert not plain.dropped_alpha
    with pytest.raises(InputError, match="missing.jpg"):
        load_job_image(MatteJob(tmp_path / "missing.jpg", Path("missing")))
