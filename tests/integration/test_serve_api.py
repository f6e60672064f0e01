"""The HTTP API of `gfm serve` through FastAPI's test client: every endpoint, every output, errors."""

from __future__ import annotations

import io
import re
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'gfm-matting[serve]')")
pytest.importorskip("httpx", reason="FastAPI's test client needs httpx (the dev extra)")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # newer Starlette prefers httpx2 and says so; httpx works
    from fastapi.testclient import TestClient  # noqa: E402

import gfm  # noqa: E402
from gfm.io import read_image  # noqa: E402
from gfm.io.hints import Hint, hint_to_gray  # noqa: E402
from gfm.serve.app import STATIC_FILES, create_app  # noqa: E402
from gfm.serve.service import MattingService, Session, SessionStore  # noqa: E402
from gfm.serve.settings import ServeSettings  # noqa: E402

from serve_fixtures import tiny_service  # noqa: E402

STATIC = Path(gfm.__file__).parent / "serve" / "static"


def _png(array: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, format="PNG")
    return buffer.getvalue()


def _decode(content: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(content))
    image.load()
    return image


def _service(settings: ServeSettings | None = None) -> MattingService:
    return tiny_service(settings)


@pytest.fixture(scope="module")
def service() -> MattingService:
    return _service()


@pytest.fixture(scope="module")
def client(service: MattingService) -> TestClient:
    with TestClient(create_app(service), base_url="http://127.0.0.1:8000") as test_client:
        yield test_client


def _matte(client: TestClient, photo: bytes, output: str = "cutout", **params: str):
    return client.post("/api/matte", params={"output": output, **params}, files={"image": ("photo.jpg", photo, "image/jpeg")})


# ------------------------------------------------------------------ information and the page


def test_health_and_model(client: TestClient) -> None:
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["capacity"] == 9
    model = client.get("/api/model").json()
    assert model["summary"] == "tiny-TT (test)"
    assert model["limits"]["max_upload_bytes"] == 25_000_000 and model["limits"]["max_image_pixels"] == 4096 * 4096
    assert model["outputs"] == ["cutout", "alpha", "foreground", "composite", "trimap"]


def test_the_page_and_its_files_need_no_other_server(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/static/app.js">' in page.text
    # every file of the page is listed (only listed files are served), with its media type
    assert set(STATIC_FILES) == {path.name for path in STATIC.iterdir()} - {"index.html"}
    for name in STATIC_FILES:
        kind = "text/css" if name.endswith(".css") else "text/javascript"  # a module script must be JavaScript
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and response.headers["content-type"].startswith(kind), name
    # the modules import only served files, and each says its one concern first
    for path in STATIC.glob("*.js"):
        text = path.read_text()
        assert text.startswith("// "), path.name
        for imported in re.findall(r'^import .* from "\./([^"]+)";$', text, re.MULTILINE):
            assert imported in STATIC_FILES, f"{path.name} imports {imported}"
    # no CDN scripts, fonts or images: nothing but relative and same-origin URLs
    for path in STATIC.iterdir():
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", path.read_text()), path.name
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/static/index.html").status_code == 404  # only the listed files


def test_openapi_describes_every_endpoint(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/health", "/api/model", "/api/matte", "/api/sessions/{session_id}/matte", "/api/sessions/{session_id}"} <= set(paths)
    assert "multipart/form-data" in paths["/api/matte"]["post"]["requestBody"]["content"]


# ------------------------------------------------------------------ outputs


def test_every_output(client: TestClient, photo: bytes) -> None:
    expected_modes = {"cutout": "RGBA", "alpha": "L", "foreground": "RGB", "composite": "RGB", "trimap": "L"}
    alphas = {}
    first = _matte(client, photo, "cutout")
    session = first.headers["x-gfm-session"]
    assert len(session) >= 20 and "network;dur=" in first.headers["server-timing"]
    for output, mode in expected_modes.items():
        # each output from a fresh upload once, then from the session (the foreground colours are cached)
        response = _matte(client, photo, output) if output == "alpha" else client.post(f"/api/sessions/{session}/matte", params={"output": output})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/png"
        assert response.headers["x-gfm-image-size"] == "200x300"
        assert response.headers["x-gfm-model"] == "tiny-TT (test)"
        assert float(response.headers["x-gfm-time-ms"]) > 0
        if output != "alpha":
            assert "foreground" not in response.headers["server-timing"]  # computed once for the cutout
        image = _decode(response.content)
        assert image.mode == mode and image.size == (200, 300)
        alphas[output] = np.asarray(image)
    np.testing.assert_array_equal(alphas["cutout"][..., 3], alphas["alpha"])
    assert set(np.unique(alphas["trimap"])) <= {0, 128, 255}
    sixteen = _decode(_matte(client, photo, "alpha", alpha_bits="16").content)
    assert sixteen.mode.startswith("I") and np.abs(np.asarray(sixteen) / 257 - alphas["alpha"]).max() <= 1
    assert _matte(client, photo, "alpha", alpha_bits="12").status_code == 422


def test_blur_fusion_foreground(client: TestClient, photo: bytes) -> None:
    """foreground=blur: Blur-Fusion colours, the photo's own where the alpha is 255."""
    cut = np.asarray(_decode(_matte(client, photo, "cutout", foreground="blur").content))
    original = np.asarray(_decode(photo).convert("RGB"))
    opaque = cut[..., 3] == 255
    assert cut.shape == (300, 200, 4) and opaque.any()
    np.testing.assert_array_equal(cut[opaque, :3], original[opaque])


def test_the_alpha_is_the_predictors(client: TestClient, service: MattingService, photo: bytes) -> None:
    image = read_image(_write(photo))
    expected = np.clip(np.rint(service.guided.predictor.predict(image).alpha * 255), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(np.asarray(_decode(_matte(client, photo, "alpha").content)), expected)


def _write(data: bytes) -> Path:
    import tempfile

    handle = tempfile.NamedTemporaryFile(suffix=".jpg", delete=False)
    handle.write(data)
    handle.close()
    return Path(handle.name)


def test_composites_on_a_colour_and_on_an_image(client: TestClient, photo: bytes) -> None:
    hints = np.zeros((300, 200), np.uint8)
    hints[250:] = Hint.BACKGROUND  # alpha 0 there, whatever the random test model says
    hint = ("h.png", _hint_png(hints), "image/png")
    files = {"image": ("p.jpg", photo, "image/jpeg"), "hint": hint}
    green = np.asarray(_decode(client.post("/api/matte", params={"output": "composite", "background": "#00ff00"}, files=files).content))
    np.testing.assert_array_equal(green[250:], np.broadcast_to([0, 255, 0], green[250:].shape))
    backdrop = _png(np.full((50, 40, 3), (10, 20, 200), np.uint8))
    on_image = client.post("/api/matte", params={"output": "composite"}, files={**files, "background": ("bg.png", backdrop, "image/png")})
    np.testing.assert_array_equal(np.asarray(_decode(on_image.content))[250:], np.broadcast_to([10, 20, 200], (50, 200, 3)))


def test_a_raw_body_works_like_a_form(client: TestClient, photo: bytes) -> None:
    form = _decode(_matte(client, photo, "alpha").content)
    for kind in ("image/jpeg", "application/octet-stream"):
        raw = client.post("/api/matte", params={"output": "alpha"}, content=photo, headers={"Content-Type": kind})
        assert raw.status_code == 200
        np.testing.assert_array_equal(np.asarray(_decode(raw.content)), np.asarray(form))


# ------------------------------------------------------------------ guided corrections


def _hint_png(hints: np.ndarray) -> bytes:
    return _png(hint_to_gray(hints), "LA")


def test_a_correction_reuses_the_network_outputs(client: TestClient, service: MattingService, photo: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _matte(client, photo, "alpha")
    session = first.headers["x-gfm-session"]
    before = np.asarray(_decode(first.content))
    hints = np.zeros((300, 200), np.uint8)
    hints[:100] = Hint.FOREGROUND
    hints[250:] = Hint.BACKGROUND
    model = service.guided.predictor.models[0]
    monkeypatch.setattr(model, "encode", lambda *a: pytest.fail("a correction ran the network"))
    raw = client.post(f"/api/sessions/{session}/matte", params={"output": "alpha"}, content=_hint_png(hints), headers={"Content-Type": "image/png"})
    assert raw.status_code == 200, raw.text
    assert raw.headers["x-gfm-session"] == session
    assert "network" not in raw.headers["server-timing"] and "fusion;dur=" in raw.headers["server-timing"]
    after = np.asarray(_decode(raw.content))
    assert (after[:100] == 255).all() and (after[250:] == 0).all()
    np.testing.assert_array_equal(after[100:250], before[100:250])
    form = client.post(f"/api/sessions/{session}/matte", params={"output": "cutout"}, files={"hint": ("h.png", _hint_png(hints), "image/png")})
    np.testing.assert_array_equal(np.asarray(_decode(form.content))[..., 3], after)
    trimap = np.asarray(_decode(client.post(f"/api/sessions/{session}/matte", params={"output": "trimap"}, content=_hint_png(hints), headers={"Content-Type": "image/png"}).content))
    assert (trimap[:100] == 255).all() and (trimap[250:] == 0).all()
    plain = client.post(f"/api/sessions/{session}/matte", params={"output": "alpha"})  # no hint: the first matte again
    np.testing.assert_array_equal(np.asarray(_decode(plain.content)), before)


def test_a_hint_with_the_first_upload(client: TestClient, photo: bytes) -> None:
    hints = np.full((300, 200), Hint.TRANSITION, np.uint8)
    hints[:, :50] = Hint.FOREGROUND
    files = {"image": ("p.jpg", photo, "image/jpeg"), "hint": ("h.png", _hint_png(hints), "image/png")}
    response = client.post("/api/matte", params={"output": "trimap"}, files=files)
    trimap = np.asarray(_decode(response.content))
    assert (trimap[:, :50] == 255).all() and (trimap[:, 50:] == 128).all()


def test_forgetting_a_session(client: TestClient, photo: bytes) -> None:
    session = _matte(client, photo, "alpha").headers["x-gfm-session"]
    assert client.delete(f"/api/sessions/{session}").status_code == 204
    gone = client.post(f"/api/sessions/{session}/matte")
    assert gone.status_code == 404 and "upload the image again" in gone.json()["detail"]
    assert client.delete(f"/api/sessions/{session}").status_code == 404


def test_sessions_are_bounded_by_count_and_memory() -> None:
    def session(name: str, side: int) -> Session:
        from gfm.inference.guided import HeadMaps, NetworkMaps

        maps = NetworkMaps((side, side), [{"TT": HeadMaps(np.zeros((side, side), np.uint8), np.zeros((side, side), np.float32))}])
        return Session(name, np.zeros((side, side, 3), np.uint8), maps)

    store = SessionStore(max_count=2, max_bytes=10**9)
    for name in "abc":
        store.add(session(name, 8))
    assert len(store) == 2 and store.remove("b") and store.remove("c") and not store.remove("a")
    one = session("x", 100).nbytes
    store = SessionStore(max_count=10, max_bytes=int(2.5 * one))
    for name in "abcd":
        store.add(session(name, 100))
        store.get("a") if name != "a" and "a" in store._sessions else None  # keep "a" recently used
    assert sorted(store._sessions) == ["a", "d"]
    huge = SessionStore(max_count=10, max_bytes=10)
    huge.add(session("big", 100))
    assert len(huge) == 1  # the newest stays even alone over budget: it is the one in use


# ------------------------------------------------------------------ bad input: 4xx with a JSON message, and the server goes on


def _bomb() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("name", "request_kwargs", "status", "message"),
    [
        ("not an image", {"files": {"image": ("a.jpg", b"hello, not a picture", "image/jpeg")}}, 400, "image: not an image"),
        ("zero bytes", {"files": {"image": ("a.jpg", b"", "image/jpeg")}}, 400, "empty"),
        ("zero-byte raw body", {"content": b"", "headers": {"Content-Type": "image/jpeg"}}, 400, "empty"),
        ("decompression bomb", {"files": {"image": ("bomb.png", _bomb(), "image/png")}}, 413, "too large"),
        ("wrong content type", {"content": b"{}", "headers": {"Content-Type": "application/json"}}, 415, "not an image"),
        ("no content type", {"content": b"abc"}, 415, "not an image"),
        ("form without image", {"files": {"photo": ("a.jpg", b"x", "image/jpeg")}}, 400, "unknown form field 'photo'"),
        ("form with only a hint", {"files": {"hint": ("h.png", b"x", "image/png")}}, 400, "no 'image' field"),
        ("bad boundary", {"content": b"--x\r\nnonsense", "headers": {"Content-Type": "multipart/form-data"}}, 400, "boundary"),
    ],
)
def test_bad_uploads(client: TestClient, photo: bytes, name: str, request_kwargs: dict, status: int, message: str) -> None:
    response = client.post("/api/matte", **request_kwargs)
    assert response.status_code == status, (name, response.text)
    assert message in response.json()["detail"], name
    assert _matte(client, photo, "alpha").status_code == 200  # still serving


def test_a_truncated_image(client: TestClient, photo: bytes) -> None:
    response = client.post("/api/matte", files={"image": ("a.jpg", photo[: len(photo) // 2], "image/jpeg")})
    assert response.status_code == 400 and "truncated" in response.json()["detail"]


def test_bad_parameters(client: TestClient, photo: bytes) -> None:
    assert _matte(client, photo, "preview").status_code == 422
    bad_colour = _matte(client, photo, "composite", background="not-a-colour")
    assert bad_colour.status_code == 422 and "cannot read colour" in bad_colour.json()["detail"]
    assert _matte(client, photo, "cutout", foreground="cf").status_code == 422  # far too slow for a server


def test_bad_hints(client: TestClient, photo: bytes) -> None:
    session = _matte(client, photo, "alpha").headers["x-gfm-session"]
    url = f"/api/sessions/{session}/matte"
    wrong_size = client.post(url, content=_hint_png(np.zeros((10, 10), np.uint8)), headers={"Content-Type": "image/png"})
    assert wrong_size.status_code == 400 and "10x10 pixels but the image is 200x300" in wrong_size.json()["detail"]
    odd = np.zeros((300, 200), np.uint8)
    odd[5, 6] = 77
    outside = client.post(url, content=_png(odd), headers={"Content-Type": "image/png"})
    assert outside.status_code == 400 and "x=6, y=5: 77" in outside.json()["detail"]
    garbage = client.post(url, content=b"garbage", headers={"Content-Type": "image/png"})
    assert garbage.status_code == 400 and "hint: not an image" in garbage.json()["detail"]
    assert client.post(url, content=b"x", headers={"Content-Type": "text/plain"}).status_code == 415
    assert client.post(url, params={"output": "alpha"}).status_code == 200  # the session still works


def test_upload_and_pixel_limits_are_options() -> None:
    service = _service(ServeSettings(max_upload_bytes=50_000, max_image_pixels=100 * 100))
    with TestClient(create_app(service), base_url="http://127.0.0.1:8000") as small:
        big = small.post("/api/matte", content=b"\0" * 60_000, headers={"Content-Type": "image/png"})
        assert big.status_code == 413 and "larger than the server's limit of 0.05 MB" in big.json()["detail"]
        big_form = small.post("/api/matte", files={"image": ("a.png", b"\0" * 60_000, "image/png")})
        assert big_form.status_code == 413
        wide = small.post("/api/matte", files={"image": ("a.png", _png(np.zeros((101, 100, 3), np.uint8)), "image/png")})
        assert wide.status_code == 413 and "0.01 megapixels" in wide.json()["detail"]
        ok = small.post("/api/matte", files={"image": ("a.png", _png(np.zeros((100, 100, 3), np.uint8)), "image/png")})
        assert ok.status_code == 200


def test_fifty_megabytes_are_refused_by_default(client: TestClient) -> None:
    response = client.post("/api/matte", content=b"\0" * (50 * 1024 * 1024), headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 413 and "limit" in response.json()["detail"]


def test_busy_is_503_with_retry_after(client: TestClient, service: MattingService, photo: bytes) -> None:
    service.admitted = service.settings.capacity  # every slot and queue place taken
    try:
        response = _matte(client, photo)
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) >= 1
        assert "busy" in response.json()["detail"]
        assert client.get("/api/health").status_code == 200  # information stays available
    finally:
        service.admitted = 0
    assert _matte(client, photo, "alpha").status_code == 200


def test_previews_are_scaled_outputs(client: TestClient, photo: bytes) -> None:
    first = _matte(client, photo, "alpha")
    full = np.asarray(_decode(first.content))
    session = first.headers["x-gfm-session"]
    preview = client.post(f"/api/sessions/{session}/matte", params={"output": "cutout", "max_side": 150})
    assert preview.status_code == 200
    assert preview.headers["x-gfm-image-size"] == "200x300" and preview.headers["x-gfm-output-size"] == "100x150"
    small = np.asarray(_decode(preview.content))
    assert small.shape == (150, 100, 4)
    # the preview's alpha is the full alpha scaled down (area average), within 8-bit rounding
    import cv2

    expected = cv2.resize(full.astype(np.float32), (100, 150), interpolation=cv2.INTER_AREA)
    assert np.abs(small[..., 3].astype(np.float32) - expected).max() <= 1.0
    same = client.post(f"/api/sessions/{session}/matte", params={"output": "alpha", "max_side": 500})
    assert same.headers["x-gfm-output-size"] == "200x300"  # never enlarged
    assert client.post(f"/api/sessions/{session}/matte", params={"max_side": 3}).status_code == 422
