"""Who may use the server: trusted Host names, same-origin writes, CORS on request, page headers.

An ASGI middleware in front of every route (new endpoints are covered without
doing anything):

* **Host**: a request must name the server by a trusted host (the localhost
  names, the bound address, and ``--allowed-host`` additions); others get 400.
  This stops DNS rebinding: a page on ``evil.example`` whose name is made to
  resolve to 127.0.0.1 sends ``Host: evil.example``.
* **Origin**: a state-changing request (POST, PUT, PATCH, DELETE) that a browser
  sends from another origin (its ``Origin`` header, or ``Sec-Fetch-Site:
  cross-site``) is refused with 403, unless ``--cors-origin`` names that origin.
  A form POST needs no CORS preflight, so without this any web page could make a
  visiting browser upload images. Clients that are not browsers (curl, scripts)
  send no ``Origin`` and are not affected.
* **CORS**: for the origins named by ``--cors-origin`` only, preflights are
  answered and responses carry ``Access-Control-Allow-Origin``.
* **Headers** on every response: a Content-Security-Policy that allows only the
  server's own scripts, styles and images (and ``blob:`` images, the page's
  results), no framing (``frame-ancestors 'none'``, ``X-Frame-Options: DENY``),
  ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer``.

Every refusal is JSON ``{"detail": "..."}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Host names that always mean this machine.
LOCAL_HOST_NAMES = ("localhost", "127.0.0.1", "::1")
#: Methods that change state on the server (uploads, deletions).
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Addresses that bind every interface: not a name a client uses.
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
#: Response headers a permitted cross-origin page may read.
EXPOSED_HEADERS = "X-GFM-Session, X-GFM-Model, X-GFM-Image-Size, X-GFM-Output-Size, X-GFM-Time-Ms, Server-Timing, Retry-After"


def host_name(host: str) -> str:
    """``"Example.org:8000"`` -> ``"example.org"``, ``"[::1]:80"`` -> ``"::1"`` (lower case, no port)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def normalise_origin(origin: str) -> str:
    """``"HTTP://Example.org:80/"`` -> ``"http://example.org"``: scheme://host[:port], default ports dropped.

    Raises:
        ValueError: not an ``http``/``https`` origin.
    """
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{origin!r} is not an origin (scheme://host[:port], e.g. http://localhost:3000)")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port not in (None, default) else ""
    return f"{parts.scheme}://{host}{port}"


def trusted_hosts(bound_host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The Host names served: the localhost names, ``bound_host`` (unless a wildcard) and ``extra``."""
    names = set(LOCAL_HOST_NAMES) | {host_name(h) for h in extra}
    if host_name(bound_host) not in WILDCARD_HOSTS:
        names.add(host_name(bound_host))
    return frozenset(names)


class RequestGuard:
    """The ASGI middleware (see the module docstring).

    Args:
        app: the application behind it.
        allowed_hosts: Host names served (:func:`trusted_hosts`); ``"*"`` among them serves any.
        cors_origins: origins (``scheme://host[:port]``) that may send state-changing
            requests and read responses from a browser.
    """

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str], cors_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.allowed_hosts = frozenset(host_name(h) for h in allowed_hosts)
        self.any_host = "*" in self.allowed_hosts
        self.cors_origins = frozenset(normalise_origin(o) for o in cors_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if not self.any_host and host_name(host) not in self.allowed_hosts:
            shown = host or "(none)"
            await _refuse(send, 400, f"Host {shown!r} is not served here (DNS rebinding protection); use http://localhost or "
                                     f"http://127.0.0.1, or start gfm serve with --allowed-host {host_name(host) or 'NAME'}")
            return
        origin = headers.get("origin")
        permitted = self._permitted(origin)
        method = scope["method"].upper()
        if method == "OPTIONS" and origin is not None and "access-control-request-method" in headers:
            await self._preflight(send, origin, permitted, headers)
            return
        if method in UNSAFE_METHODS and not permitted and self._cross_origin(origin, host, headers, scope):
            await _refuse(send, 403, f"cross-origin request from {origin or 'another site'} refused: only pages of this "
                                     "server may upload or delete; start gfm serve with --cors-origin ORIGIN to allow a web app")
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = list(SECURITY_HEADERS)
                if permitted and origin is not None:
                    extra += [(b"access-control-allow-origin", normalise_origin(origin).encode()),
                              (b"access-control-expose-headers", EXPOSED_HEADERS.encode()), (b"vary", b"Origin")]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _permitted(self, origin: str | None) -> bool:
        if origin is None or not self.cors_origins:
            return False
        try:
            return normalise_origin(origin) in self.cors_origins
        except ValueError:
            return False

    @staticmethod
    def _cross_origin(origin: str | None, host: str, headers: dict[str, str], scope: Scope) -> bool:
        """Whether a browser sent this request from a page of another origin."""
        if origin is not None:
            try:
                return _site(normalise_origin(origin)) != _site(normalise_origin(f"{scope.get('scheme', 'http')}://{host}"))
            except ValueError:
                return True  # "null" (sandboxed frames, file: pages) or garbage
        return headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none")

    async def _preflight(self, send: Send, origin: str, permitted: bool, headers: dict[str, str]) -> None:
        if not permitted:
            await _refuse(send, 403, f"cross-origin requests from {origin} are not allowed; start gfm serve with --cors-origin {origin} to allow them")
            return
        response = [
            (b"access-control-allow-origin", normalise_origin(origin).encode()),
            (b"access-control-allow-methods", b"GET, POST, DELETE"),
            (b"access-control-allow-headers", headers.get("access-control-request-headers", "content-type").encode()),
            (b"access-control-max-age", b"600"),
            (b"vary", b"Origin"),
            (b"content-length", b"0"),
            *SECURITY_HEADERS,
        ]
        await send({"type": "http.response.start", "status": 204, "headers": response})
        await send({"type": "http.response.body", "body": b""})


def _site(origin: str) -> tuple[str, int | None]:
    """Host and non-default port of a normalised origin, scheme left out: behind a TLS proxy
    the page's origin is https while the request reaches the server as http."""
    parts = urlsplit(origin)
    port = parts.port if parts.port not in (80, 443) else None
    return parts.hostname or "", port


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"detail": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


__all__ = ["CONTENT_SECURITY_POLICY", "LOCAL_HOST_NAMES", "RequestGuard", "host_name", "normalise_origin", "trusted_hosts"]
