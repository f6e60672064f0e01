"""A real `gfm serve` on 127.0.0.1: the page in a real browser, and a bounded load test.

The browser test drives headless Chromium (Debian's ``chromium`` and
``chromium-driver``, which ``make test`` installs when it runs as root with
apt-get, and Selenium from the dev extra): upload a photo, paint a correction,
check the displayed cutout, download the PNG. Without them it is skipped with
a message that says what to install.

The load test sends a fixed number of requests from several concurrent clients
to the same server, whose queue is small: every answer is a 200 or the designed
503 with ``Retry-After``; clients that disconnect mid-upload or send garbage do
not hurt the next request. Loopback only; it stops by itself.
"""

from __future__ import annotations

import http.client
import io
import shutil
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

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'gfm-matting[serve]')")
pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).parents[2] / "examples" / "original"
PHOTO = EXAMPLES / "sample2.jpg"  # 800 x 1200
CLIENTS = 6
REQUESTS = 24
CONNECTIONS = 16  # --connections of the test server
HEADER_TIMEOUT = 2  # --header-timeout of the test server (s)


def _find(*names: str) -> str | None:
    return next((path for path in map(shutil.which, names) if path), None)


CHROMIUM = _find("chromium", "chromium-browser", "google-chrome")
CHROMEDRIVER = _find("chromedriver")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="no Chromium: install Debian's chromium and chromium-driver (apt-get install chromium chromium-driver; "
    "`make test` does it when run as root) to run the real-browser test",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    checkpoint = gfm.save_checkpoint(gfm.create_model("tiny", "TT"), tmp_path_factory.mktemp("weights") / "tiny_tt.pth")
    with gfm_serve(checkpoint, "-q", "--queue", "2", "--connections", str(CONNECTIONS), "--header-timeout", str(HEADER_TIMEOUT)) as live:  # 1 computing + 2 waiting, the rest 503
        yield live


# ------------------------------------------------------------------ the page in a real browser


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    webdriver = pytest.importorskip("selenium.webdriver", reason="Selenium is not installed (pip install selenium, or the dev extra)")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900", "--no-first-run"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"download.default_directory": str(tmp_path), "download.prompt_for_download": False})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(condition, timeout: float = 60.0, what: str = "the page") -> object:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# The alpha channel of the displayed PNG along one row, in the photo's coordinates (the page
# shows a preview that may be smaller than the photo).
_ROW_ALPHA = """
const img = document.querySelector('#view');
const scale = img.naturalWidth / arguments[3];
const canvas = document.createElement('canvas');
canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
const context = canvas.getContext('2d');
context.drawImage(img, 0, 0);
const data = context.getImageData(Math.ceil(arguments[0] * scale), Math.round(arguments[1] * scale), Math.floor((arguments[0] + arguments[2]) * scale) - Math.ceil(arguments[0] * scale), 1).data;
const alpha = [];
for (let i = 3; i < data.length; i += 4) alpha.push(data[i]);
return alpha;
"""


@needs_chromium
def test_upload_correct_and_download_in_a_real_browser(server: LiveServer, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get(server.url + "/")
    assert "gfm" in driver.title
    _wait(lambda: "tiny-TT" in driver.find_element(By.ID, "model-info").text, what="the model description")

    # Upload a photo and wait for its cutout.
    driver.find_element(By.ID, "files").send_keys(str(PHOTO))
    view = driver.find_element(By.ID, "view")
    _wait(lambda: driver.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "ready" and view.get_attribute("data-output") == "cutout", what="the first cutout")
    preview = driver.execute_script("return [document.querySelector('#view').naturalWidth, document.querySelector('#view').naturalHeight]")
    assert 0.66 == pytest.approx(preview[0] / preview[1], abs=0.01) and 512 <= max(preview) <= 1200  # the photo, or a preview of it
    assert "matted in" in driver.find_element(By.ID, "status").text

    # A horizontal stroke through the middle: image row 600, x from 240 to 560 (brush radius >= 10 px).
    x0, x1, row = 260, 540, 600
    before = driver.execute_script(_ROW_ALPHA, x0, row, x1 - x0, 800)
    kind, target = ("background", 0) if np.mean(before) > 127 else ("foreground", 255)
    assert any(a != target for a in before), "the stroke would change nothing; pick another place"
    driver.find_element(By.CSS_SELECTOR, f'input[name="brush"][value="{kind}"]').click()
    layer = driver.find_element(By.ID, "hint-layer")
    width = layer.size["width"]
    version = view.get_attribute("data-version")
    ActionChains(driver).move_to_element_with_offset(layer, int(-0.2 * width), 0).click_and_hold().move_by_offset(int(0.4 * width) // 2, 0).move_by_offset(int(0.4 * width) - int(0.4 * width) // 2, 0).release().perform()
    _wait(lambda: view.get_attribute("data-version") != version and driver.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "ready", what="the corrected cutout")
    after = driver.execute_script(_ROW_ALPHA, x0, row, x1 - x0, 800)
    assert all(a == target for a in after), f"the {kind} stroke did not set alpha {target} along it: {after}"
    assert "corrected in" in driver.find_element(By.ID, "status").text

    # The glance trimap overlay shows the map the fusion used, the stroke included.
    driver.find_element(By.ID, "trimap-toggle").click()
    _wait(lambda: driver.execute_script("const c = document.querySelector('#trimap-layer'); return !c.hidden && c.width === document.querySelector('#view').naturalWidth"), what="the trimap overlay")

    # Download the cutout: the file carries the correction.
    driver.find_element(By.ID, "download-cutout").click()
    target_file = tmp_path / "sample2_cutout.png"
    _wait(lambda: target_file.is_file() and not list(tmp_path.glob("*.crdownload")), what="the downloaded cutout")
    with Image.open(target_file) as downloaded:
        assert downloaded.mode == "RGBA" and downloaded.size == (800, 1200)
        alpha = np.asarray(downloaded)[row, x0:x1, 3]
    assert (alpha == target).all()

    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors


# ------------------------------------------------------------------ load


@pytest.fixture(scope="module")
def small_photo() -> bytes:
    image = Image.open(EXAMPLES / "sample6.jpg").convert("RGB")
    image.thumbnail((320, 320))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


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


def test_concurrent_clients_get_results_or_designed_503s(server: LiveServer, small_photo: bytes) -> None:
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(lambda _: _post(server, small_photo), range(REQUESTS)))
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
    assert _post(server, small_photo, "/api/matte?output=alpha")[0] == 200


def test_broken_clients_do_not_hurt_the_next_request(server: LiveServer, small_photo: bytes) -> None:
    # A client that announces a large body, sends a little and disconnects.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        raw.sendall(b"POST /api/matte HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\nContent-Length: 500000\r\n\r\n" + small_photo[:1000])
    # A client that sends garbage instead of HTTP.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        raw.sendall(bytes(range(256)) * 8)
        raw.settimeout(5)
        try:
            raw.recv(1024)  # the server answers 400 or just closes
        except (TimeoutError, ConnectionResetError):
            pass
    # A multipart body cut short.
    status, _, content, _ = _post(server, b"--x\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\n" + small_photo[:500], "/api/matte")
    assert status == 415 or status == 400, content  # raw image/jpeg header here: a truncated JPEG
    deadline = time.monotonic() + 10
    while True:  # the aborted upload releases its queue place
        status, _, content, _ = _post(server, small_photo, "/api/matte?output=alpha")
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 200 and content.startswith(b"\x89PNG")
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", "/api/health")
    health = connection.getresponse().read()
    assert b'"waiting":0' in health and b'"running":0' in health, health


def _get(server: LiveServer, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read(), {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()


def test_idle_connections_cannot_lock_others_out(server: LiveServer, small_photo: bytes) -> None:
    """63 sockets that never sent a byte made every request a plain-text 503, for as long as they stayed."""
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(CONNECTIONS + 20)]
    slow = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    slow.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # headers never finished (slowloris)
    try:
        time.sleep(0.2)
        for path in ("/api/health", "/"):
            status, body, headers = _get(server, path)
            assert status == 200, (path, body)
        assert _post(server, small_photo, "/api/matte?output=alpha")[0] == 200
        # connections that never complete their headers are closed after the header timeout
        start = time.monotonic()
        slow.settimeout(HEADER_TIMEOUT + 10)
        assert slow.recv(1024) == b""
        assert time.monotonic() - start <= HEADER_TIMEOUT + 3
    finally:
        for connection in [*idle, slow]:
            connection.close()


def test_a_foreign_host_or_origin_is_refused_live(server: LiveServer, small_photo: bytes) -> None:
    status, body, headers = _get(server, "/api/health", {"Host": "evil.example"})
    assert status == 400 and b"--allowed-host" in body and headers["content-type"] == "application/json"
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("POST", "/api/matte", body=small_photo, headers={"Content-Type": "image/jpeg", "Origin": "http://evil.example"})
        response = connection.getresponse()
        assert response.status == 403 and b"--cors-origin" in response.read()
    finally:
        connection.close()
    status, _, headers = _get(server, "/")
    assert status == 200 and "frame-ancestors 'none'" in headers["content-security-policy"]
