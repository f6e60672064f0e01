"""Guides: a segmentation model's mask turned into hints, and matting steered by them."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason='guides run through onnxruntime (pip install "gfm-matting[guide]")')

from gfm.errors import CheckpointError, InputError  # noqa: E402
from gfm.inference import Predictor  # noqa: E402
from gfm.inference.guide import (  # noqa: E402
    Guide,
    GuideWarning,
    HintRule,
    hints_from_mask,
    load_guide,
    merge_hints,
    recognise_guide_file,
)
from gfm.inference.guided import GuidedPredictor  # noqa: E402
from gfm.io import read_image  # noqa: E402
from gfm.io.hints import Hint  # noqa: E402
from gfm.segmentation import OnnxSegmenter, SegmenterSpec  # noqa: E402
from guide_models import Bright, Constant, NotANumber, ThreeChannels, export  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PHOTO = ROOT / "examples" / "original" / "sample10.jpg"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("guides")
    return {name: export(module, folder / f"{name}.onnx") for name, module in
            (("bright", Bright()), ("nan", NotANumber()), ("constant", Constant()), ("rgb", ThreeChannels()))}


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor(strategy="single", max_pixels=300 * 200, precision="fp32")


def _disk_mask(size: int = 400, radius: int = 120, soft_band: int = 0) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    distance = np.hypot(yy - size / 2, xx - size / 2)
    if soft_band == 0:
        return (distance <= radius).astype(np.float32)
    return np.clip((radius - distance) / soft_band + 0.5, 0, 1).astype(np.float32)


def test_hints_fix_what_the_guide_is_sure_of_and_leave_its_edge_to_gfm() -> None:
    """Far inside: foreground; far outside: background; near the guide's edge: unknown (GFM decides)."""
    rule = HintRule(core=0.01, near=0.05, high=0.97, low=0.03)  # 4 px and 20 px on a 400 px image
    mask = _disk_mask(400, 120, soft_band=30)  # a soft edge 30 px wide
    hints = hints_from_mask(mask, rule)
    assert hints.dtype == np.uint8 and hints.shape == mask.shape
    assert set(np.unique(hints)) <= {Hint.UNKNOWN, Hint.BACKGROUND, Hint.FOREGROUND}  # never transition
    assert hints[200, 200] == Hint.FOREGROUND and hints[0, 0] == Hint.BACKGROUND
    edge_row = hints[200]  # along a radius, from the centre out: foreground, unknown around r = 120, background
    assert edge_row[200 + 80] == Hint.FOREGROUND and edge_row[200 + 119] == Hint.UNKNOWN and edge_row[200 + 121] == Hint.UNKNOWN
    assert edge_row[200 + 160] == Hint.BACKGROUND
    # Unsure pixels near the edge are unknown, sure ones are fixed right up to the core distance.
    unsure = (mask > 0.03) & (mask < 0.97)
    assert (hints[unsure & (np.abs(np.hypot(*np.mgrid[:400, :400] - 200) - 120) < 20)] == Hint.UNKNOWN).all()
    sharp = hints_from_mask(_disk_mask(400, 120), rule)
    ring = np.abs(np.hypot(*np.mgrid[:400, :400] - 200) - 120)
    assert (sharp[ring > 6] != Hint.UNKNOWN).all()  # a sure guide: only the 4 px core band is left to GFM
    assert (sharp[ring < 3] == Hint.UNKNOWN).all()


def test_hints_scale_with_the_image_and_refuse_bad_masks() -> None:
    small, large = _disk_mask(200, 60, soft_band=10), _disk_mask(800, 240, soft_band=40)
    fraction = [(hints_from_mask(m) == Hint.UNKNOWN).mean() for m in (small, large)]
    assert abs(fraction[0] - fraction[1]) < 0.02  # the band is a fraction of the image, not pixels
    assert (hints_from_mask(np.zeros((50, 60), np.float32)) == Hint.BACKGROUND).all()  # nothing salient: all background
    with pytest.raises(InputError):
        hints_from_mask(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(Exception, match="core <= near"):
        HintRule(core=0.1, near=0.05)


def test_the_user_wins_over_the_guide() -> None:
    user = np.array([[0, 1, 2, 3]], np.uint8)
    guide = np.array([[2, 2, 1, 2]], np.uint8)
    assert merge_hints(user, guide).tolist() == [[2, 1, 2, 3]]
    assert merge_hints(None, guide) is guide and merge_hints(user, None) is user and merge_hints(None, None) is None


def test_a_guided_prediction_applies_the_guide_hints(models: dict[str, Path], predictor: Predictor) -> None:
    image = read_image(PHOTO)
    guide = load_guide(models["bright"], threads=1)
    assert guide is not None and guide.name == "bright.onnx"
    said = guide.run(image)
    assert said is not None and said.mask.dtype == np.uint8 and said.mask.shape == image.shape[:2]
    hints = said.hints
    assert (hints == Hint.FOREGROUND).any() and (hints == Hint.BACKGROUND).any()
    guided = Predictor(predictor.models, "single", max_pixels=predictor.max_pixels, precision="fp32", guide=guide)
    alpha = guided.predict(image).alpha
    assert (alpha[hints == Hint.FOREGROUND] == 1).all() and (alpha[hints == Hint.BACKGROUND] == 0).all()
    # Exactly the fusion with those hints, then GFM's alpha kept within 0.5 of the guide where it decides.
    expected = predictor.predict(image, hints=hints).alpha
    said.bound(expected, hints)
    assert np.array_equal(alpha, expected)
    unknown = hints == Hint.UNKNOWN
    plain = predictor.predict(image).alpha
    within = np.abs(plain[unknown] - said.mask[unknown] / 255.0) <= 0.5
    assert within.any() and not within.all()  # a real test: GFM and the guide disagree somewhere
    # (float rounding only: the focus heads run on a smaller region than without hints)
    assert np.allclose(alpha[unknown][within], plain[unknown][within], atol=1e-6)
    assert (np.abs(alpha[unknown] - said.mask[unknown] / 255.0) <= 0.5 + 1e-6).all()


def test_the_bound_keeps_gfm_near_the_guide_only_where_it_decides() -> None:
    from gfm.inference.guide import GuideOutput

    hints = np.array([[Hint.UNKNOWN, Hint.UNKNOWN, Hint.FOREGROUND, Hint.UNKNOWN]], np.uint8)
    said = GuideOutput(hints, np.array([[0, 255, 0, 128]], np.uint8), margin=0.5)
    alpha = np.array([[0.9, 0.1, 1.0, 0.3]], np.float32)
    said.bound(alpha, hints)
    assert np.allclose(alpha, [[0.5, 0.5, 1.0, 0.3]])
    loose = np.array([[0.9, 0.1, 1.0, 0.3]], np.float32)
    GuideOutput(hints, said.mask, margin=1.0).bound(loose, hints)
    assert np.allclose(loose, [[0.9, 0.1, 1.0, 0.3]])  # margin 1: no bound


def test_guided_corrections_keep_the_guide_under_the_users_hints(models: dict[str, Path], predictor: Predictor) -> None:
    image = read_image(PHOTO)
    guide = load_guide(models["bright"], threads=1)
    guided_predictor = Predictor(predictor.models, "single", max_pixels=predictor.max_pixels, precision="fp32", guide=guide)
    corrector = GuidedPredictor(guided_predictor)
    maps = corrector.analyse(image)
    assert maps.guide is not None and maps.nbytes >= maps.guide.nbytes + 5 * image.shape[0] * image.shape[1]
    assert np.array_equal(corrector.fuse(maps).alpha, guided_predictor.predict(image).alpha)
    user = np.zeros(image.shape[:2], np.uint8)
    where = maps.guide.hints == Hint.FOREGROUND
    user[where] = Hint.BACKGROUND  # the user says: that is background after all
    fixed = corrector.fuse(maps, user).alpha
    assert (fixed[where] == 0).all()
    elsewhere = maps.guide.hints == Hint.BACKGROUND
    assert (fixed[elsewhere] == 0).all()


def test_a_flat_guide_mask_mattes_without_the_guide(models: dict[str, Path], predictor: Predictor) -> None:
    image = read_image(PHOTO)
    guide = load_guide(models["constant"], threads=1)
    guided = Predictor(predictor.models, "single", max_pixels=predictor.max_pixels, precision="fp32", guide=guide)
    with pytest.warns(GuideWarning, match="constant.onnx.*same value"):
        alpha = guided.predict(image).alpha
    assert np.array_equal(alpha, predictor.predict(image).alpha)


def test_broken_guides_are_named_with_the_fix(models: dict[str, Path], tmp_path: Path) -> None:
    image = read_image(PHOTO)
    nan = load_guide(models["nan"], threads=1)
    with pytest.raises(CheckpointError, match=r"nan\.onnx: the guide returned NaN"):
        nan.hints(image)
    with pytest.raises(CheckpointError, match=r"rgb\.onnx: not a segmentation model: its output"):
        load_guide(models["rgb"])
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(models["bright"].read_bytes()[:200])
    with pytest.raises(CheckpointError, match=r"truncated\.onnx: onnxruntime cannot load"):
        load_guide(truncated)
    with pytest.raises(CheckpointError, match=r"missing\.onnx: no such file"):
        load_guide(tmp_path / "missing.onnx")
    with pytest.raises(CheckpointError, match="GFM weights, not a guide"):
        load_guide("gfm-lite")
    with pytest.raises(CheckpointError, match="unknown weights 'no-such-guide'"):
        load_guide("no-such-guide")
    assert load_guide("none") is None and load_guide(None) is None


def test_a_gfm_onnx_file_is_not_a_guide(tmp_path: Path) -> None:
    """A file with two inputs (a `gfm export`) is refused as a guide, naming what it has."""
    import torch

    class TwoInputs(torch.nn.Module):
        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return a.mean(1, keepdim=True) + b.mean(1, keepdim=True)

    path = tmp_path / "two.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(TwoInputs(), (torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 32)), str(path), dynamo=False,
                          input_names=["glance_image", "focus_image"])
    with pytest.raises(CheckpointError, match="needs one .1, 3, H, W. RGB image input, this file has glance_image"):
        OnnxSegmenter(path, what="guide")


def test_the_segmenter_reads_fixed_and_free_input_sizes(models: dict[str, Path]) -> None:
    segmenter = OnnxSegmenter(models["bright"], SegmenterSpec(size=512))
    assert segmenter.input_size == (64, 64)  # the file fixes 64x64: that wins over the spec's 512
    image = np.zeros((90, 120, 3), np.uint8)
    image[20:70, 30:90] = 230
    mask = segmenter.predict(image)
    assert mask.shape == (90, 120) and mask.dtype == np.float32
    assert mask[45, 60] > 0.99 and mask[5, 5] < 0.01


def test_registered_guides_are_recognised_by_their_hash(models: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """A copy of a registered guide given as a file runs as that guide (its normalisation, its name)."""
    import dataclasses
    import hashlib

    from gfm.hub import registry

    entry = registry.get_weights(registry.DEFAULT_GUIDE)
    sha = hashlib.sha256(models["bright"].read_bytes()).hexdigest()
    assert recognise_guide_file(models["bright"]) is None
    spec = SegmenterSpec(size=64, mean=(0.4, 0.4, 0.4), std=(1.0, 1.0, 1.0))
    monkeypatch.setitem(registry._REGISTRY, entry.name, dataclasses.replace(entry, accepted_sha256=(sha,), segmenter=spec))
    assert recognise_guide_file(models["bright"]) == (entry.name, spec)
    guide = load_guide(models["bright"])
    assert isinstance(guide, Guide) and guide.name == entry.name and guide.segmenter.spec == spec


def test_the_default_guide_is_rembgs_isnet() -> None:
    """isnet-general-use: rembg's URL and MD5, the npm fp16 copy's SHA-256, ISNet's input."""
    from gfm.hub.registry import DEFAULT_GUIDE, IMGLY_ISNET_FP16_SHA256, get_weights, list_weights

    entry = get_weights(DEFAULT_GUIDE)
    assert entry.is_guide and entry in list_weights("guide") and entry not in list_weights("gfm")
    assert entry.url == "https://github.com/danielgatis/rembg/releases/download/v0.0.0/isnet-general-use.onnx"
    assert entry.md5 == "fc16ebd8b0c10d971d3513d564d01e29"
    assert entry.accepted_sha256 == (IMGLY_ISNET_FP16_SHA256,)
    assert entry.segmenter == SegmenterSpec(size=1024, mean=(0.5, 0.5, 0.5), std=(1.0, 1.0, 1.0), output="clip")


def test_hints_of_a_huge_photo_are_made_small_and_enlarged(models: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Over HINT_MAX_SIDE the rule runs on a reduced mask (memory stays bounded), the hints agree with full size."""
    from gfm.inference import guide as guide_module

    image = np.zeros((600, 900, 3), np.uint8)
    image[150:450, 200:700] = 230
    guide = load_guide(models["bright"])
    full = guide.hints(image)
    monkeypatch.setattr(guide_module, "HINT_MAX_SIDE", 300)
    seen: list[tuple[int, int] | None] = []
    predict = guide.segmenter.predict
    monkeypatch.setattr(guide.segmenter, "predict", lambda img, size=None: seen.append(size) or predict(img, size))
    reduced = guide.hints(image)
    assert seen == [(200, 300)] and reduced.shape == full.shape
    assert (reduced == full).mean() > 0.98 and (reduced[300, 450] == Hint.FOREGROUND) and reduced[10, 10] == Hint.BACKGROUND
