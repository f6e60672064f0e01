"""`gfm serve` against a hostile client, in process: bounded session memory, cross-site use,
strict parameters, JSON refusals, Retry-After from the measured pace (issue 21)."""

from __future__ import annotations

import warnings

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'gfm-matting[serve]')")
pytest.importorskip("httpx", reason="FastAPI's test client needs httpx (the dev extra)")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402

from gfm.serve.app import create_app  # noqa: E402
from gfm.serve.guard import host_name, normalise_origin, trusted_hosts  # noqa: E402
from gfm.serve.service import MattingService  # noqa: E402
from gfm.serve.settings import ServeSettings  # noqa: E402

from serve_fixtures import tiny_service  # noqa: E402

LOCAL = "http://127.0.0.1:8000"


def _service(settings: ServeSettings | None = None) -> MattingService:
    return tiny_service(settings, {"summary": "tiny-TT (test)"})


@pytest.fixture(scope="module")
def service() -> MattingService:
    return _service(ServeSettings(cors_origins=("http://localhost:3000",)))


@pytest.fixture(scope="module")
def client(service: MattingService) -> TestClient:
    with TestClient(create_app(service), base_url=LOCAL) as test_client:
        yield test_client


def _matte(client: TestClient, photo: bytes, **params: str | int):
    return client.post("/api/matte", params={"output": "alpha", **params}, files={"image": ("p.jpg", photo, "image/jpeg")})


# ------------------------------------------------------------------ 1. memory: every cache counted and bounded


def _arrays_held(session) -> int:  # noqa: ANN001
    """Every array reachable from a session, counted independently of Session.nbytes."""
    total = session.image.nbytes + session.maps.nbytes + sum(a.nbytes for a in session.previews.values())
    if session.last is not None:
        _, result, foregrounds = session.last
        total += result.alpha.nbytes + result.trimap.nbytes + sum(a.nbytes for a in foregrounds.values())
    return total


def test_previews_of_many_sizes_keep_one_and_are_counted(client: TestClient, service: MattingService, photo: bytes) -> None:
    """The page asks for max_side = window size x pixel ratio: each resize was a new cached
    foreground, uncounted (60 corrections: 1.38 -> 3.24 GB while /api/health said 275 MB)."""
    session_id = _matte(client, photo).headers["x-gfm-session"]
    session = service.sessions.get(session_id)
    full = client.post(f"/api/sessions/{session_id}/matte", params={"output": "cutout"})
    assert full.status_code == 200
    for side in range(100, 290, 6):  # 32 window sizes
        response = client.post(f"/api/sessions/{session_id}/matte", params={"output": "cutout", "max_side": side})
        assert response.status_code == 200, response.text
    _, _, foregrounds = session.last
    assert len(foregrounds) <= 2 and len(session.previews) <= 1  # one at full size, one preview
    assert (("fast", session.size) in foregrounds)  # the full-size colours survive the previews (downloads)
    assert session.nbytes == _arrays_held(session)
    health = client.get("/api/health").json()
    assert health["session_bytes"] == sum(_arrays_held(s) for s in service.sessions._sessions.values())


def test_the_memory_budget_holds_after_caches_grow(photo: bytes) -> None:
    service = _service()
    with TestClient(create_app(service), base_url=LOCAL) as client:
        first = _matte(client, photo).headers["x-gfm-session"]
        bare = service.sessions.get(first).nbytes
        service.sessions.max_bytes = int(2.1 * bare)  # room for two bare sessions, not for their caches
        second = _matte(client, photo).headers["x-gfm-session"]
        assert len(service.sessions) == 2
        for side in (120, 180):
            client.post(f"/api/sessions/{second}/matte", params={"output": "cutout", "max_side": side})
        client.post(f"/api/sessions/{second}/matte", params={"output": "cutout"})
        assert service.sessions.nbytes <= service.sessions.max_bytes or len(service.sessions) == 1
        assert client.post(f"/api/sessions/{first}/matte").status_code == 404  # the older one made room
        assert client.post(f"/api/sessions/{second}/matte").status_code == 200


# ------------------------------------------------------------------ 3. cross-site use


def test_a_foreign_host_is_refused(client: TestClient, photo: bytes) -> None:
    """DNS rebinding: a page on evil.example resolved to 127.0.0.1 sends Host: evil.example."""
    for path in ("/", "/api/health"):
        response = client.get(path, headers={"Host": "evil.example"})
        assert response.status_code == 400 and "--allowed-host evil.example" in response.json()["detail"]
    upload = client.post("/api/matte", headers={"Host": "evil.example:8000"}, files={"image": ("p.jpg", photo, "image/jpeg")})
    assert upload.status_code == 400
    for host in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000", "LOCALHOST"):
        assert client.get("/api/health", headers={"Host": host}).status_code == 200, host


def test_cross_origin_uploads_are_refused(client: TestClient, service: MattingService, photo: bytes) -> None:
    """A form POST needs no preflight: any page could make a visiting browser upload."""
    before = len(service.sessions)
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "http://127.0.0.1:9999"}):
        response = client.post("/api/matte", headers=headers, files={"image": ("p.jpg", photo, "image/jpeg")})
        assert response.status_code == 403 and "--cors-origin" in response.json()["detail"], headers
    assert len(service.sessions) == before  # nothing was created
    session = _matte(client, photo).headers["x-gfm-session"]
    assert client.delete(f"/api/sessions/{session}", headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.post(f"/api/sessions/{session}/matte", headers={"Origin": "http://evil.example"}).status_code == 403
    # the page's own requests (same origin) and clients that are not browsers (no Origin) work
    same = client.post("/api/matte", params={"output": "alpha"}, headers={"Origin": LOCAL, "Sec-Fetch-Site": "same-origin"},
                       files={"image": ("p.jpg", photo, "image/jpeg")})
    assert same.status_code == 200
    behind_tls_proxy = client.post("/api/matte", params={"output": "alpha"}, headers={"Origin": "https://127.0.0.1:8000"},
                                   files={"image": ("p.jpg", photo, "image/jpeg")})
    assert behind_tls_proxy.status_code == 200  # the page's origin is https, the proxied request http
    assert client.delete(f"/api/sessions/{session}").status_code == 204


def test_cors_origin_allows_a_named_web_app(client: TestClient, photo: bytes) -> None:
    preflight = client.options("/api/matte", headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
    foreign = client.options("/api/matte", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert foreign.status_code == 403 and "access-control-allow-origin" not in foreign.headers
    response = client.post("/api/matte", params={"output": "alpha"}, headers={"Origin": "http://localhost:3000"},
                           files={"image": ("p.jpg", photo, "image/jpeg")})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "X-GFM-Session" in response.headers["access-control-expose-headers"]


def test_the_page_cannot_be_framed_or_load_foreign_code(client: TestClient) -> None:
    page = client.get("/")
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy and "default-src 'self'" in policy
    assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
    assert client.get("/api/health").headers["x-content-type-options"] == "nosniff"


def test_host_and_origin_helpers() -> None:
    assert host_name("Example.ORG:8000") == "example.org" and host_name("[::1]:80") == "::1" and host_name("::1") == "::1"
    assert normalise_origin("HTTP://LocalHost:80/") == "http://localhost"
    with pytest.raises(ValueError):
        normalise_origin("localhost:3000")
    assert trusted_hosts("0.0.0.0", ["photos.lan"]) == {"localhost", "127.0.0.1", "::1", "photos.lan"}
    assert "192.168.1.5" in trusted_hosts("192.168.1.5")


# ------------------------------------------------------------------ 7. the API as documented


def test_unknown_and_repeated_parameters_are_422_with_a_string(client: TestClient, photo: bytes) -> None:
    typo = _matte(client, photo, outptu="alpha")
    assert typo.status_code == 422 and "unknown query parameter 'outptu'" in typo.json()["detail"]
    assert "output" in typo.json()["detail"]  # says which ones the endpoint takes
    twice = client.post("/api/matte?output=alpha&output=cutout", files={"image": ("p.jpg", photo, "image/jpeg")})
    assert twice.status_code == 422 and "'output' given more than once" in twice.json()["detail"]
    assert client.get("/api/health?verbose=1").status_code == 422


@pytest.mark.parametrize(("params", "words"), [({"max_side": 3}, "max_side"), ({"max_side": "big"}, "max_side"),
                                               ({"output": "preview"}, "output"), ({"alpha_bits": "x"}, "alpha_bits")])
def test_framework_validation_errors_are_one_string(client: TestClient, photo: bytes, params: dict, words: str) -> None:
    response = _matte(client, photo, **params)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, str) and words in detail, detail


def test_docs_pages_that_need_a_cdn_are_off(client: TestClient) -> None:
    assert client.get("/docs").status_code == 404 and client.get("/redoc").status_code == 404
    assert client.get("/docs").json() == {"detail": "Not Found"}
    assert "/api/matte" in client.get("/openapi.json").json()["paths"]


def test_retry_after_follows_the_measured_pace(client: TestClient, service: MattingService, photo: bytes) -> None:
    """Quick corrections and slow first mattes: the wait is that of the queue ahead, by kind."""
    service._recent_s.clear()
    service._recent_s["correct"] = __import__("collections").deque([0.05] * 16, maxlen=16)
    service._recent_s["matte"] = __import__("collections").deque([2.0, 2.0, 2.0], maxlen=16)
    service.admitted = service.settings.capacity
    service._admitted_by_kind["matte"] = service.settings.capacity
    try:
        response = _matte(client, photo)
        assert response.status_code == 503 and response.headers["content-type"] == "application/json"
        assert int(response.headers["retry-after"]) >= 2 * service.settings.capacity  # 9 mattes of 2 s ahead
    finally:
        service.admitted = 0
        service._admitted_by_kind["matte"] = 0
        service._recent_s.clear()


def test_an_unexpected_error_is_a_json_500(service: MattingService, photo: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "health", lambda: 1 / 0)
    with TestClient(create_app(service), base_url=LOCAL, raise_server_exceptions=False) as client:
        response = client.get("/api/health")
    assert response.status_code == 500 and "ZeroDivisionError" in response.json()["detail"]
