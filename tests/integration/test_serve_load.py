"""A bounded load test of a real `gfm serve` on 127.0.0.1.

A fixed number of requests from several concurrent clients against a server
with a small queue: every answer is a 200 or the designed 503 with
``Retry-After``; clients that disconnect mid-upload or send garbage do not hurt
the next request. Stops by itself (no open-ended loop, loopback only).
"""

from __future__ import annotations

import http.client
import io
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import gfm
from live_server import LiveServer, gfm_serve

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'gfm[serve]')")
pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).parents[2] / "examples" / "original"
CLIENTS = 6
REQUESTS = 24


@pytest.fixture(scope="module")
def photo() -> bytes:
    image = Image.open(EXAMPLES / "sample6.jpg").convert("RGB")
    image.thumbnail((320, 320))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    checkpoint = gfm.save_checkpoint(gfm.create_model("tiny", "TT"), tmp_path_factory.mktemp("weights") / "tiny_tt.pth")
    with gfm_serve(checkpoint, "-q", "--queue", "2") as live:  # 1 computing + 2 waiting, the rest 503
        yield live


def _post(server: LiveServer, body: bytes, path: str = "/api/matte?output=cutout") -> tuple[int, dict[str, str], bytes, float]:
    start = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": "image/jpeg"})
        response = connection.getresponse()
        content = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, content, time.perf_counter() - start
    finally:
        connection.close()


def test_concurrent_clients_get_results_or_designed_503s(server: LiveServer, photo: bytes) -> None:
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(lambda _: _post(server, photo), range(REQUESTS)))
    statuses = [status for status, *_ in results]
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.count(200) >= 3
    for status, headers, content, _ in results:
        if status == 503:
            assert int(headers["retry-after"]) >= 1 and b"busy" in content
        else:
            assert headers["content-type"] == "image/png" and content.startswith(b"\x89PNG")
    served = sorted(seconds for status, _, _, seconds in results if status == 200)
    p50, p90 = np.percentile(served, [50, 90])
    print(f"\n{REQUESTS} requests, {CLIENTS} clients: {statuses.count(200)} served, {statuses.count(503)} x 503; "
          f"latency p50 {p50 * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms; server peak memory {server.peak_memory_mb():.0f} MiB")
    # The queue emptied: the next request is served at once.
    assert _post(server, photo, "/api/matte?output=alpha")[0] == 200


def test_broken_clients_do_not_hurt_the_next_request(server: LiveServer, photo: bytes) -> None:
    # A client that announces a large body, sends a little and disconnects.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        raw.sendall(b"POST /api/matte HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\nContent-Length: 500000\r\n\r\n" + photo[:1000])
    # A client that sends garbage instead of HTTP.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        raw.sendall(bytes(range(256)) * 8)
        raw.settimeout(5)
        try:
            raw.recv(1024)  # the server answers 400 or just closes
        except (TimeoutError, ConnectionResetError):
            pass
    # A multipart body cut short.
    status, _, content, _ = _post(server, b"--x\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\n" + photo[:500], "/api/matte")
    assert status == 415 or status == 400, content  # raw image/jpeg header here: a truncated JPEG
    deadline = time.monotonic() + 10
    while True:  # the aborted upload releases its queue place
        status, _, content, _ = _post(server, photo, "/api/matte?output=alpha")
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 200 and content.startswith(b"\x89PNG")
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", "/api/health")
    health = connection.getresponse().read()
    assert b'"waiting":0' in health and b'"running":0' in health, health
