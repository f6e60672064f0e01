"""A local HTTP server (127.0.0.1, ephemeral port) for the weights-download tests.

Each test declares routes: a path (without query) mapped to a :class:`Route`
that serves bytes, optionally dropping the connection after some bytes,
honouring ``Range`` or not, answering an error status first, or serving an
HTML page (a fake Google Drive interstitial). Every request is recorded.
"""

from __future__ import annotations

import http.server
import io
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "application/octet-stream"
    ranges: bool = True  # honour Range requests and advertise Accept-Ranges
    wrong_ranges: bool = False  # answer Range requests from half the asked offset (a buggy server)
    drop_after: int | None = None  # send only this many bytes, then close ...
    drops: int = 0  # ... for this many requests (-1: always)
    stall_s: float = 0.0  # after drop_after bytes, go silent this long before closing
    fail_status: int | None = None  # answer this status ...
    fails: int = 0  # ... for this many requests first
    headers: dict[str, str] = field(default_factory=dict)
    # Optional: decide from the query (and cookies) whether to serve; returns
    # a Route to serve instead, or None to serve this one.
    dispatch: Callable[[dict[str, str], str], Route | None] | None = None


@dataclass
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


class LocalServer:
    Route = Route  # tests build routes as server.Route(...) (no import from conftest)

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            timeout = 10  # a stuck client never blocks the test run

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parts.query))
                server.requests.append(Request(parts.path, query, dict(self.headers.items())))
                route = server.routes.get(parts.path)
                if route is None:
                    self.send_error(404, "not found")
                    return
                if route.dispatch is not None:
                    route = route.dispatch(query, self.headers.get("Cookie", "")) or route
                if route.fail_status is not None and route.fails != 0:
                    route.fails -= 1
                    self.send_error(route.fail_status)
                    return
                body, status, extra = route.body, 200, dict(route.headers)
                requested = self.headers.get("Range")
                if route.ranges:
                    extra["Accept-Ranges"] = "bytes"
                    if requested and requested.startswith("bytes="):
                        start = int(requested[len("bytes=") :].split("-")[0])
                        start = start // 2 if route.wrong_ranges else start
                        extra["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
                        body, status = body[start:], 206
                self.send_response(status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                if route.drop_after is not None and route.drops != 0:
                    route.drops -= 1
                    self.wfile.write(body[: route.drop_after])
                    self.wfile.flush()
                    time.sleep(route.stall_s)
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str = "") -> str:
        return self.base + path

    def hits(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture()
def server() -> Iterator[LocalServer]:
    local = LocalServer()
    local.thread.start()
    try:
        yield local
    finally:
        local.httpd.shutdown()
        local.httpd.server_close()
        local.thread.join(timeout=5)


@pytest.fixture()
def gfm_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache in tmp_path; no mirror; no waiting between retries."""
    home = tmp_path / "gfm_home"
    monkeypatch.setenv("GFM_HOME", str(home))
    monkeypatch.delenv("GFM_WEIGHTS_BASE_URL", raising=False)
    monkeypatch.setattr("gfm.hub.transfer._RETRY_WAIT_S", 0.0)
    return home


@pytest.fixture(scope="module")
def photo() -> bytes:
    """A real photo as JPEG bytes, downscaled to 200x300 so that foreground estimation is quick
    (the tests of gfm serve upload it; a module may define a `photo` of its own)."""
    image = Image.open(Path(__file__).parents[2] / "examples" / "original" / "sample2.jpg").convert("RGB").resize((200, 300))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()
