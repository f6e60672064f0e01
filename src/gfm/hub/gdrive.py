"""Google Drive's "can't scan this file for viruses" page, and how to get past it.

For files over about 100 MB, ``drive.google.com/uc?export=download&id=ID``
answers with an HTML page instead of the file. Three generations of that page
exist, and we handle each:

* a form ``<form id="download-form" action="https://drive.usercontent.google.com/download">``
  with hidden inputs ``id``, ``export``, ``confirm=t`` and ``uuid``: submit it
  as a GET request;
* a link ``<a id="uc-download-link" href="/uc?export=download&confirm=TOKEN&id=ID">``;
* a ``download_warning_...=TOKEN`` cookie: repeat the request with
  ``confirm=TOKEN``.

Anything else (a quota or permission page) is not a file: the caller reports
the page's title.
"""

from __future__ import annotations

import html.parser
import re
import urllib.parse
from collections.abc import Iterable
from http.cookiejar import Cookie


class _PageParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[dict[str, str], list[tuple[str, str]]]] = []
        self.links: list[str] = []
        self.title = ""
        self._form: tuple[dict[str, str], list[tuple[str, str]]] | None = None
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "form":
            self._form = (values, [])
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None:
            if values.get("name") and values.get("type", "text").lower() not in ("submit", "button", "image"):
                self._form[1].append((values["name"], values.get("value", "")))
        elif tag == "a" and values.get("href"):
            self.links.append(values["href"])
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def _with_query(url: str, **params: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query.extend(params.items())
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _http(url: str) -> bool:
    return urllib.parse.urlsplit(url).scheme in ("http", "https")


def page_title(page: bytes) -> str:
    """The ``<title>`` of an HTML page, whitespace collapsed ("" if none)."""
    parser = _PageParser()
    parser.feed(page.decode("utf-8", errors="replace"))
    return " ".join(parser.title.split())


def confirm_url(page: bytes, page_url: str, cookies: Iterable[Cookie] = ()) -> str | None:
    """The URL that fetches the file behind a Drive confirmation page, or None.

    Args:
        page: the HTML body received instead of the file.
        page_url: the URL that answered with it (relative links resolve
            against it, and the cookie form repeats it).
        cookies: the session's cookies (for the ``download_warning`` token).
    """
    parser = _PageParser()
    parser.feed(page.decode("utf-8", errors="replace"))
    parser.close()
    for attrs, fields in parser.forms:
        names = {name for name, _ in fields}
        if attrs.get("id") == "download-form" or "confirm" in names:
            action = urllib.parse.urljoin(page_url, attrs.get("action") or page_url)
            if _http(action) and (attrs.get("method") or "get").lower() == "get":
                parts = urllib.parse.urlsplit(action)
                return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(fields)))
    for href in parser.links:
        if re.search(r"[?&]confirm=", href):
            link = urllib.parse.urljoin(page_url, href)
            if _http(link):
                return link
    for cookie in cookies:
        if cookie.name.startswith("download_warning") and cookie.value:
            return _with_query(page_url, confirm=cookie.value)
    return None
