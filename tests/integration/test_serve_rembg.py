"""`POST /api/remove`: rembg's HTTP contract (rembg 2.0.86's `rembg s`), with GFM's matte.

The live tests send the exact requests of rembg's README with curl, verbatim except
for the port (and, for the upload, the README's placeholder /path/to/input.jpg,
which is replaced by a real photo's path).
"""

from __future__ import annotations

import io
import json
import shlex
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'gfm-matting[serve]')")
pytest.importorskip("httpx", reason="FastAPI's test client needs httpx (the dev extra)")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402

import gfm  # noqa: E402
from gfm.inference import GuidedPredictor, Predictor  # noqa: E402
from gfm.io import decode_image  # noqa: E402
from gfm.serve.app import create_app  # noqa: E402
from gfm.serve.rembg_api import REMBG_MODELS, guide_for_rembg_model  # noqa: E402
from gfm.serve.service import MattingService  # noqa: E402
from gfm.serve.settings import ServeSettings  # noqa: E402

from live_server import LiveServer, gfm_serve  # noqa: E402

EXAMPLES = Path(__file__).parents[2] / "examples" / "original"

#: rembg's README (2.0.86), section "rembg s": the requests a rembg client sends.
README_UPLOAD = 'curl -s -F file=@/path/to/input.jpg "http://localhost:7000/api/remove" -o output.png'
README_URL = 'curl -s "http://localhost:7000/api/remove?url=http://input.png" -o output.png'
README_URL_DC = 'curl -s "http://localhost:7000/api/remove?url=...&dc=true" > output.png'


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    torch.manual_seed(0)
    return Predictor(gfm.create_model("tiny", "TT"), device="cpu")


@pytest.fixture(scope="module")
def client(predictor: Predictor) -> Iterator[TestClient]:
    describe = {"summary": "tiny-TT (test)", "models": [{"spec": "tiny-test", "variant": "tiny-TT"}]}
    with TestClient(create_app(MattingService(GuidedPredictor(predictor), ServeSettings(), describe)), base_url="http://127.0.0.1:8000") as test_client:
        yield test_client


def _image(content: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(content))
    image.load()
    return image


def test_a_plain_upload_answers_the_cutout_png(client: TestClient, photo: bytes, predictor: Predictor) -> None:
    answer = client.post("/api/remove", files={"file": ("input.jpg", photo, "image/jpeg")})
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    cut = _image(answer.content)
    assert cut.format == "PNG" and cut.mode == "RGBA" and cut.size == (200, 300)
    expected = np.clip(np.rint(predictor.predict(decode_image(photo)).alpha * 255), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(np.asarray(cut)[..., 3], expected)


def test_only_mask_post_process_and_background_colour(client: TestClient, photo: bytes, predictor: Predictor) -> None:
    files = {"file": ("input.jpg", photo, "image/jpeg")}
    alpha = predictor.predict(decode_image(photo)).alpha
    mask = _image(client.post("/api/remove", files=files, data={"om": "true"}).content)
    assert mask.mode == "L"
    np.testing.assert_array_equal(np.asarray(mask), np.clip(np.rint(alpha * 255), 0, 255).astype(np.uint8))
    hard = np.asarray(_image(client.post("/api/remove", files=files, data={"om": "true", "ppm": "true"}).content))
    np.testing.assert_array_equal(hard, np.where(alpha >= 0.5, 255, 0))
    # bgc in the query string, as rembg takes it: the cutout over an opaque colour, RGBA like rembg's
    flat = np.asarray(_image(client.post("/api/remove", params={"bgc": "0,0,255,255"}, files=files).content))
    assert flat.shape == (300, 200, 4) and (flat[..., 3] == 255).all()
    clear = alpha == 0
    np.testing.assert_array_equal(flat[clear][:, :3], np.broadcast_to([0, 0, 255], flat[clear][:, :3].shape))
    css = np.asarray(_image(client.post("/api/remove", params={"bgc": "purple"}, files=files).content))
    np.testing.assert_array_equal(css[clear][:, :3], np.broadcast_to([128, 0, 128], css[clear][:, :3].shape))
    # om wins over bgc, as in rembg
    assert _image(client.post("/api/remove", params={"bgc": "0,0,255,255"}, files=files, data={"om": "1"}).content).mode == "L"


def test_alpha_matting_fields_are_accepted_and_checked(client: TestClient, photo: bytes) -> None:
    files = {"file": ("input.jpg", photo, "image/jpeg")}
    plain = client.post("/api/remove", files=files).content
    same = client.post("/api/remove", files=files, data={"a": "true", "af": "240", "ab": "10", "ae": "15", "dc": "true", "vm": "false"})
    assert same.status_code == 200 and same.content == plain  # GFM mattes always: they change nothing
    for data, message in [({"af": "300"}, "af=300: must be from 0 to 255"), ({"ae": "-1"}, "ae=-1: must be 0 or more"),
                          ({"a": "maybe"}, "a='maybe': expected true or false"), ({"ab": "x"}, "ab='x': expected a whole number")]:
        answer = client.post("/api/remove", files=files, data=data)
        assert answer.status_code == 422 and message in answer.json()["detail"]
    answer = client.post("/api/remove", params={"bgc": "300,0,0,0"}, files=files)
    assert answer.status_code == 422 and "bgc '300,0,0,0'" in answer.json()["detail"]
    answer = client.post("/api/remove", params={"extras": json.dumps({"model_path": "/etc/passwd"})}, files=files)
    assert answer.status_code == 422 and "never reads a path" in answer.json()["detail"]
    answer = client.post("/api/remove", params={"nonsense": "1"}, files=files)
    assert answer.status_code == 422 and "unknown query parameter 'nonsense'" in answer.json()["detail"]


def test_model_names(client: TestClient, photo: bytes) -> None:
    files = {"file": ("input.jpg", photo, "image/jpeg")}
    assert client.post("/api/remove", files=files, data={"model": "tiny-test"}).status_code == 200
    answer = client.post("/api/remove", files=files, data={"model": "u2net"})
    assert answer.status_code == 422
    assert "rembg's segmentation model" in answer.json()["detail"] and "this server runs tiny-test" in answer.json()["detail"]
    assert "isnet-general-use" in answer.json()["detail"]  # what is available through a guide
    answer = client.post("/api/remove", files=files, data={"model": "isnet-general-use"})
    assert answer.status_code == 422 and "'isnet-general-use' guide stands in" in answer.json()["detail"]
    assert "gfm serve --guide isnet-general-use" in answer.json()["detail"]
    answer = client.post("/api/remove", files=files, data={"model": "gfm-r34-tt"})
    assert answer.status_code == 422 and "gfm serve --model gfm-r34-tt" in answer.json()["detail"]
    assert guide_for_rembg_model("isnet-general-use") == "isnet-general-use"
    assert guide_for_rembg_model("u2net") is None and "birefnet-general" in REMBG_MODELS


def test_a_rembg_model_name_is_served_by_its_guide(predictor: Predictor, photo: bytes) -> None:
    """model=isnet-general-use on a server started with --guide isnet-general-use: accepted."""
    describe = {"summary": "tiny-TT (test), guided by isnet-general-use", "models": [{"spec": "tiny-test"}],
                "guide": {"name": "isnet-general-use", "file": "isnet-general-use.onnx"}}
    with TestClient(create_app(MattingService(GuidedPredictor(predictor), ServeSettings(), describe)), base_url="http://127.0.0.1:8000") as guided:
        files = {"file": ("input.jpg", photo, "image/jpeg")}
        assert guided.post("/api/remove", files=files, data={"model": "isnet-general-use"}).status_code == 200
        answer = guided.post("/api/remove", files=files, data={"model": "u2net"})
        assert answer.status_code == 422 and "guided by isnet-general-use" in answer.json()["detail"]


def test_bad_uploads(client: TestClient) -> None:
    answer = client.post("/api/remove", files={"image": ("input.jpg", b"x", "image/jpeg")})
    assert answer.status_code == 400 and "unknown form field 'image'" in answer.json()["detail"]
    answer = client.post("/api/remove", data={"om": "true"}, files={"om2": ("a", b"", "text/plain")})
    assert answer.status_code == 400
    answer = client.post("/api/remove", content=b"raw", headers={"content-type": "image/jpeg"})
    assert answer.status_code == 415 and "field 'file'" in answer.json()["detail"]
    answer = client.post("/api/remove", files={"file": ("input.jpg", b"not an image", "image/jpeg")})
    assert answer.status_code == 400 and "file" in answer.json()["detail"]


def test_fetching_a_url_is_refused(client: TestClient) -> None:
    answer = client.get("/api/remove", params={"url": "http://169.254.169.254/latest/meta-data"})
    assert answer.status_code == 403 and "does not fetch images from URLs" in answer.json()["detail"]


def test_remove_checks_its_own_query_strictly(client: TestClient) -> None:
    """The app-wide strict query check leaves /api/remove to itself (its fields may come in the query):
    an unknown or repeated query parameter is still a 422 with the reason."""
    photo = {"file": ("input.jpg", (EXAMPLES / "sample2.jpg").read_bytes(), "image/jpeg")}
    unknown = client.post("/api/remove?bgcolour=1", files=photo)
    assert unknown.status_code == 422 and "unknown query parameter 'bgcolour'" in unknown.json()["detail"]
    twice = client.post("/api/remove?om=true&om=false", files=photo)
    assert twice.status_code == 422 and "'om' given more than once" in twice.json()["detail"]


# ------------------------------------------------------------------ rembg's README, verbatim, against a real server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    checkpoint = gfm.save_checkpoint(gfm.create_model("tiny", "TT"), tmp_path_factory.mktemp("weights") / "tiny_tt.pth")
    with gfm_serve(checkpoint, "-q") as live:
        yield live


def _readme(command: str, server: LiveServer, cwd: Path, photo: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    command = command.replace("localhost:7000", f"localhost:{server.port}")
    if photo is not None:
        command = command.replace("/path/to/input.jpg", shlex.quote(str(photo)))
    return subprocess.run(command, shell=True, cwd=cwd, capture_output=True, timeout=120)


@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl")
def test_rembg_readme_requests_with_curl(server: LiveServer, tmp_path: Path) -> None:
    photo = tmp_path / "input.jpg"
    Image.open(EXAMPLES / "sample2.jpg").convert("RGB").resize((240, 360)).save(photo)
    done = _readme(README_UPLOAD, server, tmp_path, photo)
    assert done.returncode == 0, done.stderr
    with Image.open(tmp_path / "output.png") as cut:
        assert cut.format == "PNG" and cut.mode == "RGBA" and cut.size == (240, 360)
        assert 0 < np.asarray(cut)[..., 3].mean() < 255
    for command in (README_URL, README_URL_DC):
        (tmp_path / "output.png").unlink()
        done = _readme(command, server, tmp_path)
        assert done.returncode == 0, done.stderr
        answer = json.loads((tmp_path / "output.png").read_text())  # what curl saved: the 403's reason
        assert "does not fetch images from URLs" in answer["detail"] and "-F file=@" in answer["detail"]
