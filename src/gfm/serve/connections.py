"""Connections that cannot lock the server out: a header timeout and an idle-first connection limit.

uvicorn's ``limit_concurrency`` counts every open connection, including those
that never send a byte, and never closes them: 63 idle sockets made every
request, ``/api/health`` and the page included, a plain-text 503 for as long
as they stayed open. :func:`guarded_protocol` builds uvicorn's HTTP protocol
(h11) with two changes:

* **header timeout**: a connection must complete its request headers within
  ``header_timeout_s`` of opening, or of its previous response (keep-alive);
  otherwise it is closed. Bodies have their own limit in the application
  (:attr:`~gfm.serve.settings.ServeSettings.upload_timeout_s`).
* **connection limit without lock-out**: beyond ``max_connections`` open
  connections, the oldest connection with no request in progress (idle, or
  still sending its headers) is closed to make room; only when every
  connection has a request in progress does a new one get a JSON 503.

Refusals the protocol itself makes (a malformed request, the 503) are JSON
``{"detail": "..."}`` like the application's.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

#: What ``limit_concurrency`` is set to: the limit is enforced here instead.
NO_UVICORN_LIMIT = None


def _json_refusal(status: int, reason: str, message: str, retry_after: int | None = None) -> bytes:
    body = json.dumps({"detail": message}).encode()
    headers = [f"HTTP/1.1 {status} {reason}", "content-type: application/json", f"content-length: {len(body)}", "connection: close"]
    if retry_after is not None:
        headers.append(f"retry-after: {retry_after}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


def guarded_protocol(header_timeout_s: float, max_connections: int) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a header timeout and an idle-first connection limit.

    Pass the class as ``uvicorn.Config(http=...)`` with ``limit_concurrency=None``.

    Args:
        header_timeout_s: seconds a connection has to send its request headers.
        max_connections: open connections at most; idle ones are closed first.
    """

    class GuardedH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._header_timer: asyncio.TimerHandle | None = None
            self._waiting_since = self.loop.time()
            self._arm(None)
            if len(self.connections) > max_connections:
                self._make_room()

        # -------------------------------------------------------------- header timeout

        def _arm(self, finished: Any) -> None:
            """Start the header clock; ``finished`` is the cycle (request) that just ended, if any."""
            self._disarm()
            self._armed_after = finished
            self._waiting_since = self.loop.time()
            self._header_timer = self.loop.call_later(header_timeout_s, self._header_timeout)

        def _disarm(self) -> None:
            timer = getattr(self, "_header_timer", None)
            if timer is not None:
                timer.cancel()
                self._header_timer = None

        def _header_timeout(self) -> None:
            self._header_timer = None
            if self.cycle is self._armed_after and not self.transport.is_closing():
                self.transport.close()  # no request headers in time: the connection is dropped

        def handle_events(self) -> None:
            super().handle_events()
            if self.cycle is not getattr(self, "_armed_after", None):
                self._disarm()  # a request's headers arrived

        def on_response_complete(self) -> None:
            self._arm(self.cycle)  # before super(): a pipelined request it starts disarms again
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        # -------------------------------------------------------------- connection limit

        def idle(self) -> bool:
            """No request in progress: waiting for (or reading) request headers."""
            return self.cycle is None or self.cycle.response_complete

        def _make_room(self) -> None:
            others = [c for c in self.connections if c is not self and isinstance(c, GuardedH11Protocol) and c.idle() and not c.transport.is_closing()]
            excess = len(self.connections) - max_connections
            for victim in sorted(others, key=lambda c: c._waiting_since)[:excess]:
                victim.transport.close()
                self.connections.discard(victim)
            if len(self.connections) > max_connections:  # every other connection is working on a request
                message = (f"the server has {max_connections} connections with requests in progress; "
                           f"retry in {max(1, round(header_timeout_s))} s")
                self.transport.write(_json_refusal(503, "Service Unavailable", message, max(1, round(header_timeout_s))))
                self.transport.close()
                self.connections.discard(self)

        # -------------------------------------------------------------- refusals as JSON

        def send_400_response(self, msg: str) -> None:
            self.transport.write(_json_refusal(400, "Bad Request", f"{msg.rstrip('.')}: not a valid HTTP/1.1 request"))
            self.transport.close()

    return GuardedH11Protocol


__all__ = ["NO_UVICORN_LIMIT", "guarded_protocol"]
