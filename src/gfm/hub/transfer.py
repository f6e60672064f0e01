"""One URL streamed into a local file: HTTP with retries, resume and interstitial pages.

:func:`fetch` is the network half of :func:`gfm.hub.download.download_weights`;
it knows nothing of weights, caches or checksums beyond the SHA-256 it
computes while the bytes arrive. Only the standard library talks to the
network (``urllib``).
"""

from __future__ import annotations

import hashlib
import http.client
import http.cookiejar
import logging
import re
import shutil
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

from gfm.errors import OutputError
from gfm.hub.gdrive import confirm_url, page_title

__all__ = ["MAX_DOWNLOAD_BYTES", "TransferError", "fetch"]

logger = logging.getLogger(__name__)

MAX_DOWNLOAD_BYTES = 8 << 30  # the largest release (r101) is about 2 GB
_CHUNK = 1 << 20
_MAX_PAGE_BYTES = 2 << 20  # an interstitial page is a few KB
_MAX_INTERSTITIALS = 3
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_RETRY_WAIT_S = 1.0  # doubled at each retry, at most 10 s
_SPACE_MARGIN = 64 << 20


class TransferError(Exception):
    """A URL could not deliver the file (network, HTTP status, web page)."""


def _reason(error: BaseException) -> str:
    if isinstance(error, urllib.error.URLError) and not isinstance(error, urllib.error.HTTPError):
        return str(error.reason)
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _is_permanent(error: BaseException) -> bool:
    """Errors that retrying will not fix: unknown host (offline, no DNS)."""
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    return isinstance(reason, socket.gaierror)


def _wait(failures: int, label: str, reason: str, retries: int) -> None:
    delay = min(_RETRY_WAIT_S * 2 ** (failures - 1), 10.0)
    logger.warning("%s: %s; retry %d of %d in %.1f s", label, reason, failures, retries, delay)
    if delay > 0:
        time.sleep(delay)


def _content_range(response: http.client.HTTPResponse) -> tuple[int, int | None] | None:
    """``(first byte, total or None)`` from a 206's Content-Range header."""
    match = re.match(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", response.headers.get("Content-Range", ""))
    if match is None:
        return None
    total = None if match.group(3) == "*" else int(match.group(3))
    return int(match.group(1)), total


def _content_length(response: http.client.HTTPResponse) -> int | None:
    value = response.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _check_space(folder: Path, needed: int) -> None:
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free < needed + _SPACE_MARGIN:
        raise OutputError(
            f"not enough disk space in {folder}: the download needs {needed / 1e6:.0f} MB, "
            f"{free / 1e6:.0f} MB are free; free some space or set GFM_HOME elsewhere"
        )


def fetch(url: str, part: Path, *, label: str, progress: bool, retries: int, timeout: float) -> tuple[str, int]:
    """Stream ``url`` into ``part``; return ``(sha256, size)``.

    Retries up to ``retries`` times after a failed request or a dropped
    transfer, resuming with ``Range`` when the server accepts it. Raises
    :class:`TransferError` when the URL cannot deliver.
    """
    from tqdm import tqdm

    from gfm._version import __version__

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    current = url
    digest = hashlib.sha256()
    received = 0
    total: int | None = None
    failures = 0
    pages = 0
    with open(part, "wb") as out, tqdm(
        desc=label, unit="B", unit_scale=True, unit_divisor=1024, disable=not progress, dynamic_ncols=True
    ) as bar:

        def restart() -> None:
            nonlocal digest, received
            out.seek(0)
            out.truncate()
            digest = hashlib.sha256()
            received = 0
            bar.reset()

        while True:
            headers = {"User-Agent": f"gfm/{__version__} (weights download; python urllib)"}
            if received:
                headers["Range"] = f"bytes={received}-"
            try:
                response = opener.open(urllib.request.Request(current, headers=headers), timeout=timeout)
            except urllib.error.HTTPError as error:
                error.close()
                if error.code == 416 and total is not None and received == total:
                    break  # we already have every byte
                if error.code in _RETRY_STATUS and failures < retries:
                    failures += 1
                    _wait(failures, label, f"HTTP {error.code}", retries)
                    continue
                raise TransferError(f"HTTP {error.code} {error.reason}") from None
            except (OSError, http.client.HTTPException) as error:  # URLError is an OSError
                if failures < retries and not _is_permanent(error):
                    failures += 1
                    _wait(failures, label, _reason(error), retries)
                    continue
                raise TransferError(_reason(error)) from None

            dropped: BaseException | None = None
            with response:
                if response.headers.get_content_type() == "text/html":
                    page = response.read(_MAX_PAGE_BYTES)
                    next_url = confirm_url(page, response.geturl(), jar)
                    if next_url is None or pages >= _MAX_INTERSTITIALS:
                        title = page_title(page) or "untitled"
                        raise TransferError(
                            f"the server sent a web page ({title!r}) instead of the file; Google Drive "
                            "does this when the file's download quota is exceeded or it is not shared"
                        )
                    pages += 1
                    current = next_url
                    if received:
                        restart()
                    continue
                span = _content_range(response) if response.status == 206 else None
                if response.status == 206 and (span is None or span[0] != received):
                    # Partial content from the wrong offset: never splice it in.
                    if failures >= retries:
                        raise TransferError("the server answered the range request with the wrong bytes")
                    failures += 1
                    restart()
                    continue
                if received and span is None:
                    restart()  # the server ignored the Range: start over
                length = _content_length(response)
                if span is not None and span[1] is not None:
                    total = span[1]
                elif length is not None:
                    total = received + length
                else:
                    total = None
                if total is not None:
                    if total > MAX_DOWNLOAD_BYTES:
                        raise TransferError(f"the file is {total} bytes, over the {MAX_DOWNLOAD_BYTES}-byte limit")
                    _check_space(part.parent, total - received)
                    bar.total = total
                    bar.refresh()
                resumable = span is not None or response.headers.get("Accept-Ranges", "").lower() == "bytes"
                while True:
                    try:
                        chunk = response.read1(_CHUNK)  # what has arrived: a stall keeps the bytes so far
                    except (OSError, http.client.HTTPException) as error:
                        dropped = error
                        break
                    if not chunk:
                        break
                    out.write(chunk)  # a write error (disk full) is not a network error: it propagates
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
                    if received > MAX_DOWNLOAD_BYTES:
                        raise TransferError(f"more than {MAX_DOWNLOAD_BYTES} bytes received; refusing")

            if dropped is None and (total is None or received == total):
                break
            if total is not None and received > total:
                raise TransferError(f"the server sent {received} bytes but announced {total}")
            reason = _reason(dropped) if dropped is not None else f"connection closed after {received} of {total} bytes"
            if failures >= retries:
                raise TransferError(f"transfer interrupted ({reason}); gave up after {retries} retries")
            failures += 1
            if not resumable:
                restart()
            _wait(failures, label, f"{reason}; {'resuming' if resumable else 'restarting'}", retries)
        out.flush()
    return digest.hexdigest(), received
