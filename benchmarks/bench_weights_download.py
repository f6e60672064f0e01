"""Throughput of the verified weights download, and the cost of verifying the cache.

Serves a random file of --size-mb megabytes from a local HTTP server
(127.0.0.1) under a temporary GFM_HOME, then times:

* download_weights (stream + SHA-256 + fsync + rename), first and with --zip;
* weights_path on the unchanged file (size/mtime stamp: no re-hash);
* a full re-hash of the file (what a changed file, or verify_cached(full=True), costs).

Usage::

    PYTHONPATH=src python benchmarks/bench_weights_download.py --size-mb 256
"""

from __future__ import annotations

import argparse
import http.server
import io
import os
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=256)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["GFM_HOME"] = str(root / "home")
        serve = root / "serve"
        serve.mkdir()
        payload = os.urandom(args.size_mb << 20)
        (serve / "gfm_r34_tt.pth").write_bytes(payload)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr("gfm_r34_ft.pth", payload)
        (serve / "gfm_r34_ft.pth").write_bytes(buffer.getvalue())
        del buffer

        handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(serve), **k)  # noqa: E731
        http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None  # type: ignore[method-assign]
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{httpd.server_address[1]}"

        from gfm.hub import download_weights, weights_path
        from gfm.hub.cache import sha256_file

        mb = len(payload) / 1e6
        print(f"command: {' '.join([sys.executable, *sys.argv])}")
        print(f"file: {mb:.0f} MB (random bytes), server 127.0.0.1")
        for name, label in (("gfm-r34-tt", "plain .pth"), ("gfm-r34-ft", "zip holding the .pth")):
            start = time.perf_counter()
            path = download_weights(name, base_url=base, progress=False)
            seconds = time.perf_counter() - start
            print(f"download_weights ({label}): {seconds:.2f} s, {mb / seconds:.0f} MB/s")
            assert path.stat().st_size == len(payload)
        start = time.perf_counter()
        for _ in range(100):
            weights_path("gfm-r34-tt")
        print(f"weights_path, unchanged file: {(time.perf_counter() - start) * 10:.2f} ms per call")
        start = time.perf_counter()
        sha256_file(path)
        seconds = time.perf_counter() - start
        print(f"full SHA-256 re-hash: {seconds:.2f} s, {mb / seconds:.0f} MB/s")
        httpd.shutdown()


if __name__ == "__main__":
    main()
