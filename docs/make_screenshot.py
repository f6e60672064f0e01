"""Take the README's screenshot of the `gfm serve` page with headless Chromium.

    .venv/bin/python docs/make_screenshot.py                       # the default model
    .venv/bin/python docs/make_screenshot.py --model runs/mine     # any --model of gfm serve

Starts ``gfm serve`` on 127.0.0.1, opens the page in headless Chromium (Debian's
``chromium`` and ``chromium-driver``), uploads ``examples/original/sample6.jpg``,
paints one correction stroke, and writes ``docs/serve.png`` (a 256-colour PNG) with two text
chunks saying what it shows: ``gfm-page`` (the SHA-256 of the page's files) and ``gfm-model``
(the model line); ``tests/docs/test_repository.py`` fails when the page or the default
strategy changed since the picture was taken.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from PIL import Image, PngImagePlugin

ROOT = Path(__file__).resolve().parents[1]


def page_digest() -> str:
    """SHA-256 of the page's files (gfm/serve/static), in name order."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "src" / "gfm" / "serve" / "static").iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="passed to gfm serve --model (default: gfm serve's default)")
    parser.add_argument("--photo", type=Path, default=ROOT / "examples" / "original" / "sample6.jpg")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "serve.png")
    args = parser.parse_args()

    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    command = [sys.executable, "-m", "gfm.cli.main", "serve", "--port", "0", "-q"] + (["--model", args.model] if args.model else [])
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url: list[str] = []
    ready = threading.Event()

    def drain() -> None:
        assert server.stderr is not None
        for line in server.stderr:
            sys.stderr.write(line)
            found = re.search(r"open (http://127\.0\.0\.1:\d+/)", line)
            if found:
                url.append(found.group(1))
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    ready.wait(300)
    if not url:
        raise SystemExit("gfm serve did not start")
    options = Options()
    options.binary_location = shutil.which("chromium") or "chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,760", "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")), options=options)
    try:
        driver.get(url[0])
        driver.find_element(By.ID, "files").send_keys(str(args.photo.resolve()))
        view = driver.find_element(By.ID, "view")
        deadline = time.monotonic() + 120
        while not (view.get_attribute("data-output") == "cutout" and driver.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "ready"):
            if time.monotonic() > deadline:
                raise SystemExit("the page did not show a cutout")
            time.sleep(0.2)
        # One background stroke along the bottom edge: a correction, as a user makes it.
        driver.find_element(By.CSS_SELECTOR, 'input[name="brush"][value="background"]').click()
        layer = driver.find_element(By.ID, "hint-layer")
        width, height = layer.size["width"], layer.size["height"]
        version = view.get_attribute("data-version")
        chain = ActionChains(driver).move_to_element_with_offset(layer, int(-0.4 * width), int(0.4 * height)).click_and_hold()
        chain.move_by_offset(int(0.4 * width), 0).move_by_offset(int(0.4 * width), 0).release().perform()
        while view.get_attribute("data-version") == version or driver.find_element(By.TAG_NAME, "body").get_attribute("data-state") != "ready":
            if time.monotonic() > deadline:
                raise SystemExit("the correction did not arrive")
            time.sleep(0.2)
        png = driver.get_screenshot_as_png()
        with urllib.request.urlopen(url[0].rstrip("/") + "/api/model", timeout=30) as answer:
            model = json.load(answer)
    finally:
        driver.quit()
        server.terminate()
        server.wait(timeout=30)
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # What the picture shows, for tests/docs/test_repository.py: the page's files and the model line.
    info = PngImagePlugin.PngInfo()
    info.add_text("gfm-page", page_digest())
    info.add_text("gfm-model", json.dumps({"summary": model.get("summary"), "strategy": model.get("strategy")}))
    image.save(args.out, optimize=True, pnginfo=info)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
