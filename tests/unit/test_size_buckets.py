"""Predictor.size_bucket: a few network input shapes for photos of many sizes; off by default."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gfm
from gfm.inference import Predictor
from gfm.inference.predictor import SIZE_BUCKET
from gfm.inference.sizing import WorkingSize, bucketed, working_size


def test_bucketed_pads_only() -> None:
    size = working_size(1080, 1620, 5 / 13, 1600 * 1600, 32)
    grown = bucketed(size, 128)
    assert (grown.height, grown.width) == (size.height, size.width)
    assert grown.padded_height % 128 == 0 and grown.padded_width % 128 == 0
    assert 0 <= grown.padded_height - size.padded_height < 128 and 0 <= grown.padded_width - size.padded_width < 128
    assert bucketed(size, None) is size
    assert bucketed(WorkingSize(100, 200, 128, 256), 128) == WorkingSize(100, 200, 128, 256)


def _input_shapes(predictor: Predictor, images: list[np.ndarray], monkeypatch: pytest.MonkeyPatch) -> set[tuple[int, int]]:
    shapes: set[tuple[int, int]] = set()
    model = predictor.models[0]
    encode = model.encode

    def spy(x: torch.Tensor):  # type: ignore[no-untyped-def]
        shapes.add(tuple(x.shape[-2:]))
        return encode(x)

    monkeypatch.setattr(model, "encode", spy)
    for image in images:
        alpha = predictor.predict(image).alpha
        assert alpha.shape == image.shape[:2] and 0 <= alpha.min() and alpha.max() <= 1
    monkeypatch.setattr(model, "encode", encode)
    return shapes


def test_photos_of_many_sizes_share_a_few_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    predictor = Predictor(gfm.create_model("tiny", "TT"), "single", device="cpu")
    assert predictor.size_bucket is None  # default: outputs as before, on every device
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in ((1080, 1620), (1000, 1500), (1050, 1580), (1060, 1600))]
    plain = _input_shapes(predictor, images, monkeypatch)
    predictor.size_bucket = SIZE_BUCKET
    grouped = _input_shapes(predictor, images, monkeypatch)
    assert len(plain) == 2 and len(grouped) == 1  # 416x640 and 416x608 -> 512x640
    assert all(h % SIZE_BUCKET == 0 and w % SIZE_BUCKET == 0 for h, w in grouped)
