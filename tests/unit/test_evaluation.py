"""Dataset discovery, file loading and the evaluation runner on tiny synthetic data."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gfm.errors import InputError
from gfm.evaluation.datasets import discover_dataset, folder_dataset
from gfm.evaluation.runner import evaluate, find_predictions
from gfm.metrics import evaluate_alpha, load_alpha_exact, load_trimap, trimap_from_alpha

H, W = 30, 40


def _save(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def _gt8(seed: int) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    rng = np.random.default_rng(seed)
    cy, cx = rng.integers(10, 20), rng.integers(12, 28)
    radius = np.hypot(yy - cy, xx - cx)
    return np.clip((12 - radius) * 60, 0, 255).astype(np.uint8)  # solid core, soft edge


def _make_folders(root: Path, names: list[str], trimaps: bool = True) -> None:
    for i, name in enumerate(names):
        gt = _gt8(i)
        _save(root / "original" / f"{name}.jpg", np.dstack([gt, gt // 2, 255 - gt]))
        _save(root / "mask" / f"{name}.png", gt)
        if trimaps:
            _save(root / "trimap" / f"{name}.png", trimap_from_alpha(gt / 255.0))


def _perturb(gt8: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(100 + seed)
    noisy = gt8.astype(np.int32) + rng.integers(-40, 41, gt8.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


# -- loading ------------------------------------------------------------------


def test_load_alpha_exact_8_and_16_bit(tmp_path: Path) -> None:
    values8 = np.arange(256, dtype=np.uint8).reshape(16, 16)
    alpha = load_alpha_exact(_save(tmp_path / "a8.png", values8))
    assert alpha.dtype == np.float64
    np.testing.assert_array_equal(alpha, values8.astype(np.float64) / 255)
    values16 = np.linspace(0, 65535, 256).astype(np.uint16).reshape(16, 16)
    alpha16 = load_alpha_exact(_save(tmp_path / "a16.png", values16))
    np.testing.assert_array_equal(alpha16, values16.astype(np.float64) / 65535)


def test_load_alpha_rgb(tmp_path: Path) -> None:
    gray = _gt8(0)
    same = _save(tmp_path / "same.png", np.dstack([gray] * 3))
    np.testing.assert_array_equal(load_alpha_exact(same), gray / 255)
    different = _save(tmp_path / "different.png", np.dstack([gray, gray, 255 - gray]))
    with pytest.raises(InputError, match=r"different\.png.*channels that differ"):
        load_alpha_exact(different)


def test_load_trimap_refuses_or_snaps_other_values(tmp_path: Path) -> None:
    values = np.array([[0, 60, 64, 128, 191, 192, 200, 255]], dtype=np.uint8)
    path = _save(tmp_path / "tri.png", values)
    with pytest.raises(InputError, match=r"tri\.png.*60, 64, 191, 192, 200.*--snap-trimaps"):
        load_trimap(path)
    np.testing.assert_array_equal(load_trimap(path, snap=True), [[0, 0, 128, 128, 128, 255, 255, 255]])
    good = _save(tmp_path / "good.png", np.array([[0, 128, 255]], dtype=np.uint8))
    np.testing.assert_array_equal(load_trimap(good), [[0, 128, 255]])


# -- predictions --------------------------------------------------------------


def test_find_predictions(tmp_path: Path) -> None:
    for name in ("a.png", "b_alpha.png", "extra.png", ".hidden.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    found, missing, unused = find_predictions(tmp_path, ["a", "b", "c"])
    assert found == {"a": tmp_path / "a.png", "b": tmp_path / "b_alpha.png"}
    assert missing == ["c"]
    assert unused == ["extra.png"]
    (tmp_path / "a_alpha.png").write_bytes(b"")
    with pytest.raises(InputError, match=r"two predictions for 'a'"):
        find_predictions(tmp_path, ["a"])
    with pytest.raises(InputError, match=r"prediction folder not found"):
        find_predictions(tmp_path / "nope", ["a"])


# -- discovery ----------------------------------------------------------------


def test_discover_am2k_nested_and_flat(tmp_path: Path) -> None:
    _make_folders(tmp_path / "AM-2k" / "validation", ["x", "y"])
    (tmp_path / "AM-2k" / "train").mkdir()
    nested = discover_dataset(tmp_path / "AM-2k")
    assert nested.name == "AM-2k validation"
    assert [s.name for s in nested.samples] == ["x", "y"]
    assert nested.trimaps_provided and nested.samples[0].trimap is not None
    flat = discover_dataset(tmp_path / "AM-2k" / "validation")
    assert [(s.image, s.alpha, s.trimap) for s in flat.samples] == [(s.image, s.alpha, s.trimap) for s in nested.samples]


def test_a_plain_folder_is_named_by_its_path_not_as_am2k(tmp_path: Path) -> None:
    """original/ + mask/ without AM-2k's validation/ around them is any folder of pairs:
    the reports name it by its path (it used to be labelled "AM-2k validation")."""
    _make_folders(tmp_path / "mine", ["x", "y"], trimaps=False)
    plain = discover_dataset(tmp_path / "mine")
    assert plain.name == str(tmp_path / "mine") and plain.layout == "pairs"
    assert [s.name for s in plain.samples] == ["x", "y"] and not plain.trimaps_provided
    for folder, other in (("original", "images"), ("mask", "alphas")):  # any pairs layout, as gfm train reads it
        (tmp_path / "mine" / folder).rename(tmp_path / "mine" / other)
    assert [s.name for s in discover_dataset(tmp_path / "mine").samples] == ["x", "y"]
    _make_folders(tmp_path / "AM-2k" / "validation", ["x"])
    assert discover_dataset(tmp_path / "AM-2k").name == "AM-2k validation"
    assert discover_dataset(tmp_path / "AM-2k" / "validation").name == str(tmp_path / "AM-2k" / "validation")



def test_training_validation_keeps_the_first_images(tmp_path: Path) -> None:
    """data.validation_max_images trims the validation set gfm train scores (it was a
    tuple there, which `del samples[n:]` could not trim)."""
    from gfm.engine.config import TrainConfig
    from gfm.engine.data import build_validation

    _make_folders(tmp_path / "AM-2k" / "validation", ["a", "b", "c"])
    config = TrainConfig()
    config.data.validation, config.data.validation_max_images = str(tmp_path / "AM-2k"), 2
    dataset = build_validation(config)
    assert dataset is not None and dataset.name == "AM-2k validation"
    assert [s.name for s in dataset.samples] == ["a", "b"]

def test_discover_p3m(tmp_path: Path) -> None:
    root = tmp_path / "P3M-10k"
    for subset, images in (("P3M-500-P", "blurred_image"), ("P3M-500-NP", "original_image")):
        base = root / "validation" / subset
        _make_folders(base, [f"{subset[-1]}_1"])
        (base / "original").rename(base / images)
    with pytest.raises(InputError, match=r"both P3M-10k validation subsets.*--subset"):
        discover_dataset(root)
    dataset = discover_dataset(root, subset="p3m-500-np")
    assert dataset.name == "P3M-500-NP"
    assert [s.name for s in dataset.samples] == ["P_1"]
    assert dataset.samples[0].image is not None and dataset.samples[0].image.parent.name == "original_image"
    direct = discover_dataset(root / "validation" / "P3M-500-P")
    assert direct.name == "P3M-500-P"
    with pytest.raises(InputError, match=r"unknown subset"):
        discover_dataset(root, subset="P3M-1")


def test_discover_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"dataset folder not found"):
        discover_dataset(tmp_path / "missing")
    with pytest.raises(InputError, match=r"not a known dataset layout.*--images"):
        discover_dataset(tmp_path)
    _make_folders(tmp_path / "d", ["a", "b"])
    (tmp_path / "d" / "mask" / "b.png").unlink()
    (tmp_path / "d" / "trimap" / "a.png").unlink()
    with pytest.raises(InputError, match=r"images without an alpha in .*mask: b"):
        discover_dataset(tmp_path / "d")
    (tmp_path / "d" / "original" / "b.jpg").unlink()
    with pytest.raises(InputError, match=r"trimap.*no trimap for a"):
        discover_dataset(tmp_path / "d")


def test_folder_dataset_refuses_duplicate_stems(tmp_path: Path) -> None:
    _make_folders(tmp_path, ["a"], trimaps=False)
    _save(tmp_path / "original" / "a.png", np.zeros((H, W, 3), np.uint8))
    with pytest.raises(InputError, match=r"two image files share the name 'a'"):
        folder_dataset(tmp_path / "original", tmp_path / "mask")


# -- the runner ---------------------------------------------------------------


def _dataset_with_predictions(tmp_path: Path, names: list[str]) -> tuple[Path, Path]:
    data = tmp_path / "data"
    _make_folders(data, names)
    preds = tmp_path / "preds"
    for i, name in enumerate(names):
        _save(preds / f"{name}.png", _perturb(_gt8(i), i))
    return data, preds


def test_evaluate_folder_values_and_reports(tmp_path: Path) -> None:
    data, preds = _dataset_with_predictions(tmp_path, ["a", "b"])
    result = evaluate(discover_dataset(data), tmp_path / "out", predictions=preds, progress=False)
    assert result.count == 2
    for i, name in enumerate(["a", "b"]):
        gt8 = _gt8(i)
        expected = evaluate_alpha(_perturb(gt8, i) / 255.0, gt8 / 255.0, trimap_from_alpha(gt8 / 255.0))
        assert result.per_image[name] == expected
    for key, mean in result.means.items():
        assert mean == pytest.approx(np.mean([result.per_image[n][key] for n in ("a", "b")]))
    summary = json.loads(result.json_path.read_text())
    assert summary["complete"] and summary["count"] == 2 and summary["method"] == "preds"
    assert summary["settings"]["trimaps"] == "provided by the dataset"
    assert f"| {data} | preds |" in result.markdown_path.read_text()  # a plain folder, named by its path
    assert summary["settings"]["dataset"]["name"] == str(data)
    assert summary["settings"]["dataset"]["layout"] == "folders"


def test_evaluate_16_bit_prediction(tmp_path: Path) -> None:
    data, preds = _dataset_with_predictions(tmp_path, ["a"])
    pred16 = (_perturb(_gt8(0), 0).astype(np.uint16) * 257)  # same values, 16-bit
    _save(preds / "a.png", pred16)
    result = evaluate(discover_dataset(data), tmp_path / "out", predictions=preds, progress=False)
    gt = _gt8(0) / 255.0
    assert result.per_image["a"] == evaluate_alpha(_perturb(_gt8(0), 0) / 255.0, gt, trimap_from_alpha(gt))


def test_evaluate_errors_name_the_file(tmp_path: Path) -> None:
    data, preds = _dataset_with_predictions(tmp_path, ["a", "b", "c"])
    dataset = discover_dataset(data)
    (preds / "c.png").unlink()
    with pytest.raises(InputError, match=r"no prediction for 1 of 3 images: c"):
        evaluate(dataset, tmp_path / "out", predictions=preds, progress=False)
    partial = evaluate(dataset, tmp_path / "out", predictions=preds, allow_missing=True, progress=False)
    assert partial.count == 2 and partial.missing == ["c"]
    assert "1 images had no prediction" in partial.markdown_path.read_text()
    _save(preds / "b.png", np.zeros((H + 1, W), np.uint8))
    with pytest.raises(InputError, match=r"b\.png: prediction is 40x31 but the ground truth"):
        evaluate(dataset, tmp_path / "out", predictions=preds, allow_missing=True, progress=False)


def test_evaluate_bad_trimap_and_snapping(tmp_path: Path) -> None:
    data, preds = _dataset_with_predictions(tmp_path, ["a"])
    trimap = np.asarray(Image.open(data / "trimap" / "a.png")).copy()
    trimap[trimap == 128] = 127
    _save(data / "trimap" / "a.png", trimap)
    dataset = discover_dataset(data)
    with pytest.raises(InputError, match=r"a\.png: trimap has values other than 0/128/255"):
        evaluate(dataset, tmp_path / "out", predictions=preds, progress=False)
    result = evaluate(dataset, tmp_path / "out", predictions=preds, snap_trimaps=True, progress=False)
    gt = _gt8(0) / 255.0
    assert result.per_image["a"] == evaluate_alpha(_perturb(_gt8(0), 0) / 255.0, gt, trimap_from_alpha(gt))


def test_evaluate_generated_trimaps_are_reported(tmp_path: Path) -> None:
    data, preds = _dataset_with_predictions(tmp_path, ["a"])
    for path in (data / "trimap").iterdir():
        path.unlink()
    (data / "trimap").rmdir()
    result = evaluate(discover_dataset(data), tmp_path / "out", predictions=preds, progress=False)
    assert "generated from the ground truth" in json.loads(result.json_path.read_text())["settings"]["trimaps"]
    assert "trimaps generated from the ground truth" in result.markdown_path.read_text()


def test_rows_before_a_failure_are_kept_for_resume(tmp_path: Path) -> None:
    data, preds = _dataset_with_predictions(tmp_path, ["a", "b", "c"])
    dataset = discover_dataset(data)
    good_b = (preds / "b.png").read_bytes()
    _save(preds / "b.png", np.zeros((H, W + 2), np.uint8))
    with pytest.raises(InputError, match=r"b\.png"):
        evaluate(dataset, tmp_path / "out", predictions=preds, progress=False)
    with (tmp_path / "out" / "per_image.csv").open() as handle:
        assert [row["name"] for row in csv.DictReader(handle)] == ["a"]
    (preds / "b.png").write_bytes(good_b)
    resumed = evaluate(dataset, tmp_path / "out", predictions=preds, resume=True, progress=False)
    assert resumed.count == 3
    assert resumed.per_image == evaluate(dataset, tmp_path / "out2", predictions=preds, progress=False).per_image


def test_resume_keeps_rows_and_refuses_another_evaluation(tmp_path: Path) -> None:
    data, preds = _dataset_with_predictions(tmp_path, ["a", "b"])
    dataset = discover_dataset(data)
    out = tmp_path / "out"
    first = evaluate(dataset, out, predictions=preds, progress=False)
    rows = list(csv.DictReader(first.csv_path.open()))
    rows[0]["SAD"] = "123.0"  # sentinel: must survive a resume
    with first.csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerow(rows[0])  # drop row "b": must be recomputed
    resumed = evaluate(dataset, out, predictions=preds, resume=True, progress=False)
    assert resumed.per_image["a"]["SAD"] == 123.0
    assert resumed.per_image["b"] == first.per_image["b"]
    assert resumed.count == 2
    fresh = evaluate(dataset, out, predictions=preds, progress=False)
    assert fresh.per_image["a"] == first.per_image["a"]
    other = tmp_path / "other_preds"
    other.mkdir()
    for path in preds.iterdir():
        (other / path.name).write_bytes(path.read_bytes())
    with pytest.raises(InputError, match=r"computed with predictions = .*drop resume"):
        evaluate(dataset, out, predictions=other, resume=True, progress=False)


def test_predictor_callable(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _make_folders(data, ["a", "b"], trimaps=False)
    dataset = discover_dataset(data)
    seen: list[tuple[int, ...]] = []

    def predict(image: np.ndarray) -> np.ndarray:
        assert image.dtype == np.uint8 and image.ndim == 3  # test double, checks its input
        seen.append(image.shape)
        return (image[..., 0] / 255.0).astype(np.float32)  # the red channel is the matte

    saved = tmp_path / "saved"
    result = evaluate(dataset, tmp_path / "out", predictor=predict, save_predictions=saved, progress=False)
    assert seen == [(H, W, 3), (H, W, 3)]
    assert sorted(p.name for p in saved.iterdir()) == ["a.png", "b.png"]
    assert result.per_image["a"]["SAD"] < 0.05  # JPEG noise only
    assert json.loads(result.json_path.read_text())["method"] == "predictor"
    with Image.open(data / "original" / "a.jpg") as image:
        red = np.asarray(image)[..., 0]
    gt = _gt8(0) / 255.0
    expected = evaluate_alpha((red / 255.0).astype(np.float32).astype(np.float64), gt, trimap_from_alpha(gt))
    assert result.per_image["a"] == expected


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (np.zeros((H, W + 1), np.float32), r"shape \(30, 41\), expected \(30, 40\)"),
        (np.full((H, W), 2.0, np.float32), r"outside \[0, 1\]"),
        (np.zeros((H, W), np.uint8), r"dtype uint8"),
        ([[0.0]], r"not a numpy array"),
    ],
)
def test_predictor_bad_output(tmp_path: Path, output: object, message: str) -> None:
    data = tmp_path / "data"
    _make_folders(data, ["a"], trimaps=False)
    with pytest.raises(InputError, match=r"a\.jpg: .*" + message):
        evaluate(discover_dataset(data), tmp_path / "out", predictor=lambda image: output, progress=False)


def test_exactly_one_prediction_source(tmp_path: Path) -> None:
    data, preds = _dataset_with_predictions(tmp_path, ["a"])
    dataset = discover_dataset(data)
    with pytest.raises(InputError, match=r"exactly one"):
        evaluate(dataset, tmp_path / "out", progress=False)
    with pytest.raises(InputError, match=r"exactly one"):
        evaluate(dataset, tmp_path / "out", predictions=preds, predictor=lambda i: i, progress=False)


def test_nan_metric_means_over_defined_images(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _save(data / "original" / "full.jpg", np.zeros((8, 8, 3), np.uint8))
    _save(data / "mask" / "full.png", np.full((8, 8), 255, np.uint8))  # no transition
    _save(data / "original" / "soft.jpg", np.zeros((8, 8, 3), np.uint8))
    soft = np.zeros((8, 8), np.uint8)
    soft[2:6, 2:6] = 128
    _save(data / "mask" / "soft.png", soft)
    preds = tmp_path / "preds"
    _save(preds / "full.png", np.full((8, 8), 200, np.uint8))
    _save(preds / "soft.png", soft)
    result = evaluate(discover_dataset(data), tmp_path / "out", predictions=preds, progress=False)
    assert math.isnan(result.per_image["full"]["MSE_TRAN"])
    assert result.undefined == {"MSE_TRAN": 1, "MAD_TRAN": 1}
    assert result.means["MSE_TRAN"] == result.per_image["soft"]["MSE_TRAN"]
    assert "MSE_TRAN is undefined (no transition pixel) for 1 images" in result.markdown_path.read_text()
