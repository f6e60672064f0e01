"""`gfm export` and the onnxruntime predictor: the exported graph is pinned to
PyTorch's outputs on real photos, and `gfm matte --model FILE.onnx` to the
PyTorch model's alpha. The default model (gfm-lite, bundled) is exported once
for the module (a few seconds)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from gfm.cli.main import main  # noqa: E402
from gfm.errors import CheckpointError, ConfigError, OutputError  # noqa: E402
from gfm.inference.sizing import to_network_input, working_size  # noqa: E402
from gfm.io import read_alpha, read_image  # noqa: E402

ROOT = Path(__file__).parents[2]
PHOTOS = [ROOT / "examples" / "original" / name for name in ("sample2.jpg", "sample10.jpg")]


@pytest.fixture(scope="module")
def default_model():
    from gfm.inference.models import load_model_spec

    return load_model_spec()


@pytest.fixture(scope="module")
def exported(default_model, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gfm.inference.onnx_export import export_onnx

    path = tmp_path_factory.mktemp("onnx") / "gfm-lite.onnx"
    info = export_onnx(default_model, path, model_name="gfm-lite")
    assert info.max_difference < 1e-4 and info.variant == "effl0-TT"
    return path


def _nchw(image: np.ndarray, scale: float) -> np.ndarray:
    size = working_size(*image.shape[:2], scale, 1600 * 1600)
    return np.ascontiguousarray(to_network_input(image, size).transpose(2, 0, 1)[None])


@pytest.mark.parametrize("photo", PHOTOS, ids=lambda p: p.stem)
def test_exported_graph_matches_pytorch_on_real_photos(default_model, exported: Path, photo: Path) -> None:
    """Glance logits and focus alpha within 1e-4 of PyTorch, at several sizes (dynamic, each input its own)."""
    from gfm.inference.onnx_runtime import OnnxModel
    from gfm.inference.onnx_export import pytorch_reference

    onnx_model = OnnxModel(exported, threads=1)
    image = read_image(photo)
    for glance_scale, focus_scale in ((1 / 8, 1 / 6), (1 / 5, 1 / 5), (1 / 10, 1 / 4)):
        glance_input, focus_input = _nchw(image, glance_scale), _nchw(image, focus_scale)
        expected = pytorch_reference(default_model, glance_input, focus_input)
        got = onnx_model.run(glance_input, focus_input)
        for want, have in zip(expected, got):
            assert have.shape == want.shape
            assert np.abs(have - want).max() < 1e-4


def test_exported_file_describes_itself(default_model, exported: Path) -> None:
    from gfm.inference.onnx_runtime import OnnxModel, OnnxPredictor
    from gfm.inference.precision import inference_defaults

    model = OnnxModel(exported)
    meta = model.metadata
    assert meta["gfm.model"] == "gfm-lite" and meta["gfm.variant"] == "effl0-TT" and meta["gfm.head"] == "TT"
    # the strategy measured best for the weights, which the runtime then uses by default
    assert meta["gfm.quantization"] == "none" and meta["gfm.recommended_strategy"] == inference_defaults(default_model).strategy
    predictor = OnnxPredictor(model)
    assert predictor.strategy.name == inference_defaults(default_model).strategy and predictor.precision == "fp32"
    normalization = json.loads(meta["gfm.normalization"])
    assert normalization["name"] == "imagenet" and normalization["mean"] == pytest.approx([123.675, 116.28, 103.53])
    assert json.loads(meta["gfm.strategies"])["hybrid"] == {"glance_scale": pytest.approx(1 / 3), "focus_scale": 0.5}


@pytest.mark.parametrize("strategy", ["hybrid", "single"])
def test_onnx_predictor_gives_the_pytorch_alpha(exported: Path, strategy: str) -> None:
    """Same working sizes and fusion as Predictor: alphas within 1e-4, glance maps equal."""
    from gfm.inference import Predictor
    from gfm.inference.onnx_runtime import OnnxPredictor

    image = read_image(PHOTOS[0])
    options = {"max_pixels": 200 * 300}
    want = Predictor(None, strategy, device="cpu", precision="fp32", **options).predict(image, trimap=True)
    got = OnnxPredictor(exported, strategy, threads=1, **options).predict(image, trimap=True)
    assert got.alpha.shape == want.alpha.shape == image.shape[:2]
    assert np.abs(got.alpha - want.alpha).max() < 1e-4
    assert np.array_equal(got.trimap, want.trimap)


def test_gfm_matte_with_an_onnx_file(exported: Path, tmp_path: Path) -> None:
    """The CLI: the same 8-bit alpha as the PyTorch model (at most 1 level apart,
    in under 0.1 % of the pixels: float rounding at the 8-bit steps) and every output kind."""
    photo = PHOTOS[1]
    common = [str(photo), "--max-pixels", "300x200", "--threads", "1", "-q"]  # each: the weights' own strategy
    assert main(["matte", *common, "--precision", "fp32", "--out", str(tmp_path / "pt"), "--outputs", "alpha"]) == 0
    assert main(["matte", *common, "--model", str(exported), "--out", str(tmp_path / "onnx"),
                 "--outputs", "alpha,cutout,trimap,preview"]) == 0
    want = read_alpha(tmp_path / "pt" / "sample10_alpha.png").astype(int)
    got = read_alpha(tmp_path / "onnx" / "sample10_alpha.png").astype(int)
    assert np.abs(got - want).max() <= 1 and (got != want).mean() < 1e-3
    assert {p.name for p in (tmp_path / "onnx").iterdir()} == {f"sample10_{k}" for k in ("alpha.png", "cutout.png", "trimap.png", "preview.jpg")}


def test_onnx_matting_does_not_import_torch(exported: Path, tmp_path: Path) -> None:
    """Users who deploy without PyTorch: `gfm matte --model FILE.onnx` with torch unimportable."""
    script = (
        "import sys; sys.modules['torch'] = None\n"
        "from gfm.cli.main import main\n"
        f"sys.exit(main(['matte', {str(PHOTOS[0])!r}, '--model', {str(exported)!r}, '--out', {str(tmp_path)!r},"
        " '--outputs', 'alpha,cutout', '--max-pixels', '200x200', '--threads', '1', '-q']))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "sample2_alpha.png").is_file() and (tmp_path / "sample2_cutout.png").is_file()


def test_onnx_options_that_need_pytorch_are_refused(exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = str(PHOTOS[0])
    for extra, words in ((["--precision", "bf16"], "--precision bf16"), (["--model", "gfm-lite"], "cannot be mixed")):
        assert main(["matte", photo, "--model", str(exported), *extra, "--out", str(tmp_path / "x"), "-q"]) == 2
        assert words in capsys.readouterr().err
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())


def test_onnx_matting_takes_hints_as_pytorch_does(exported: Path, tmp_path: Path) -> None:
    """--hint with an exported file: the hints override the glance exactly as with the PyTorch model."""
    from gfm.io.hints import Hint, hint_to_gray

    photo = PHOTOS[1]
    height, width = read_image(photo).shape[:2]
    hints = np.zeros((height, width), np.uint8)
    hints[: height // 4] = Hint.BACKGROUND  # the top quarter: background
    hints[height // 2 : height // 2 + 20, width // 3 : width // 3 + 20] = Hint.FOREGROUND
    hint_file = tmp_path / "hint.png"
    Image.fromarray(hint_to_gray(hints), "LA").save(hint_file)
    common = [str(photo), "--hint", str(hint_file), "--max-pixels", "300x200", "--threads", "1", "-q", "--outputs", "alpha"]
    assert main(["matte", *common, "--precision", "fp32", "--out", str(tmp_path / "pt")]) == 0
    assert main(["matte", *common, "--model", str(exported), "--out", str(tmp_path / "onnx")]) == 0
    want = np.round(read_alpha(tmp_path / "pt" / "sample10_alpha.png") * 255).astype(int)
    got = np.round(read_alpha(tmp_path / "onnx" / "sample10_alpha.png") * 255).astype(int)
    assert np.abs(got - want).max() <= 1 and (got != want).mean() < 1e-3
    assert (got[: height // 4] == 0).all() and (got[height // 2 : height // 2 + 20, width // 3 : width // 3 + 20] == 255).all()


def test_export_cli_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "model.onnx"
    target.write_bytes(b"keep me")
    assert main(["export", "gfm-lite", str(target)]) == 2
    assert "--overwrite" in capsys.readouterr().err and target.read_bytes() == b"keep me"
    assert main(["export", "gfm-lite", str(tmp_path / "model.pth")]) == 2
    assert "NAME.onnx" in capsys.readouterr().err
    assert main(["export", "no-such-model", str(tmp_path / "new.onnx")]) == 2
    assert "no-such-model" in capsys.readouterr().err and not (tmp_path / "new.onnx").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]  # no temporary file left


def test_int8_export_of_a_tiny_model(tmp_path: Path) -> None:
    """--quantize int8 writes a smaller file, marked int8, that runs through the same predictor."""
    from gfm.inference.onnx_runtime import OnnxModel, OnnxPredictor
    from gfm.inference.onnx_export import export_onnx
    from gfm.models.registry import create_model

    model = create_model("tiny", "TT").eval()
    fp32 = export_onnx(model, tmp_path / "tiny.onnx", model_name="tiny")
    int8 = export_onnx(model, tmp_path / "tiny-int8.onnx", model_name="tiny", quantize="int8")
    assert fp32.max_difference < 1e-4 and int8.size_bytes < fp32.size_bytes / 2
    assert OnnxModel(int8.path).metadata["gfm.quantization"] == "int8"
    result = OnnxPredictor(int8.path, "single").predict(read_image(PHOTOS[0]))
    assert result.alpha.dtype == np.float32 and 0 <= result.alpha.min() and result.alpha.max() <= 1
    with pytest.raises(OutputError, match="--overwrite"):
        export_onnx(model, tmp_path / "tiny.onnx", model_name="tiny")


def test_rim_models_and_foreign_files_are_refused(tmp_path: Path) -> None:
    from gfm.inference.models import load_model_spec
    from gfm.inference.onnx_runtime import OnnxModel
    from gfm.inference.onnx_export import export_onnx
    from gfm.models.registry import create_model

    with pytest.raises(ConfigError, match="RIM"):
        export_onnx(create_model("tiny", "RIM"), tmp_path / "rim.onnx", model_name="tiny-rim")
    assert not (tmp_path / "rim.onnx").exists()
    with pytest.raises(CheckpointError, match="gfm matte --model"):  # PyTorch loaders point to the ONNX runtime
        load_model_spec(tmp_path / "junk.onnx")
    with pytest.raises(CheckpointError, match="no such ONNX file"):
        OnnxModel(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(CheckpointError, match="cannot load"):
        OnnxModel(tmp_path / "junk.onnx")


# ------------------------------------------------------------------ faulty model files: named as such (issue 21)


def _with_metadata(source: Path, target: Path, **changes: str | None) -> Path:
    """A copy of ``source`` with ``gfm.KEY`` metadata changed (None: removed)."""
    import onnx

    proto = onnx.load(str(source))
    entries = {p.key: p.value for p in proto.metadata_props}
    for key, value in changes.items():
        name = f"gfm.{key}"
        if value is None:
            entries.pop(name, None)
        else:
            entries[name] = value
    del proto.metadata_props[:]
    for key, value in entries.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(target))
    return target


def _identity_graph(target: Path, head: str = "TT", focus_channels: int = 3) -> Path:
    """A graph that passes its inputs through: glance 3 channels, focus ``focus_channels``."""
    import onnx
    from onnx import TensorProto, helper

    image = lambda name: helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 3, "h", "w"])  # noqa: E731
    nodes = [helper.make_node("Identity", ["glance_image"], ["glance"])]
    if focus_channels == 3:
        nodes.append(helper.make_node("Identity", ["focus_image"], ["focus"]))
    else:
        starts = helper.make_tensor("starts", TensorProto.INT64, [1], [0])
        ends = helper.make_tensor("ends", TensorProto.INT64, [1], [focus_channels])
        axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
        nodes.append(helper.make_node("Slice", ["focus_image", "starts", "ends", "axes"], ["focus"]))
    graph = helper.make_graph(nodes, "identity", [image("glance_image"), image("focus_image")],
                              [helper.make_tensor_value_info("glance", TensorProto.FLOAT, None), helper.make_tensor_value_info("focus", TensorProto.FLOAT, None)],
                              initializer=[] if focus_channels == 3 else [starts, ends, axes])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    for key, value in {"gfm.format_version": "1", "gfm.head": head, "gfm.output_stride": "32", "gfm.normalization": "{}"}.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(target))
    return target


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"format_version": "abc"}, "gfm.format_version is 'abc', not a whole number"),
        ({"output_stride": "thirty-two"}, "gfm.output_stride is 'thirty-two', not a whole number"),
        ({"head": None}, "its metadata has no gfm.head"),
        ({"head": "XY"}, "names the head 'XY'"),
        ({"output_stride": "0"}, "output stride 0"),
        ({"output_stride": "-32"}, "output stride -32"),
        ({"output_stride": "1"}, "output stride 1"),
        ({"recommended_strategy": "fastest"}, "recommends the strategy 'fastest'"),
    ],
)
def test_faulty_metadata_is_named_as_the_model_files_fault(exported: Path, tmp_path: Path, changes: dict, words: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Such files ended in a Python traceback, or in "this is a bug in gfm, please report it with this image"."""
    from gfm.inference.onnx_runtime import OnnxModel

    bad = _with_metadata(exported, tmp_path / "bad.onnx", **changes)
    with pytest.raises(CheckpointError, match="this model file is faulty") as raised:
        OnnxModel(bad, threads=1)
    assert str(bad) in str(raised.value) and words in str(raised.value)
    assert main(["matte", str(PHOTOS[0]), "--model", str(bad), "-o", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "this model file is faulty" in err and "bug in gfm" not in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_a_graph_whose_stride_is_not_its_metadatas_fails_at_load(exported: Path, tmp_path: Path) -> None:
    from gfm.inference.onnx_runtime import OnnxModel

    bad = _with_metadata(exported, tmp_path / "stride16.onnx", output_stride="16")  # the graph needs multiples of 32
    with pytest.raises(CheckpointError, match=r"stride16.onnx: this model file is faulty: .*(onnxruntime failed|output is)"):
        OnnxModel(bad, threads=1)


@pytest.mark.parametrize(("head", "focus_channels", "words"), [("TT", 3, "its focus output is float32 (1, 3, 160, 96)"),
                                                               ("FT", 1, "its glance output is float32 (1, 3, 96, 160), not float32 (1, 2, 96, 160)")])
def test_outputs_of_the_wrong_shape_are_refused_at_load(tmp_path: Path, head: str, focus_channels: int, words: str) -> None:
    """Such a file was accepted and produced garbage with exit 0."""
    from gfm.inference.onnx_runtime import OnnxModel

    bad = _identity_graph(tmp_path / "identity.onnx", head, focus_channels)
    with pytest.raises(CheckpointError, match="this model file is faulty") as raised:
        OnnxModel(bad, threads=1)
    assert words in str(raised.value)
