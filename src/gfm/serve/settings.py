"""What ``gfm serve`` accepts and how much work it takes on at once."""

from __future__ import annotations

import math
from dataclasses import dataclass

from gfm.errors import ConfigError

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
#: Host names served by default (the bound address is added by ``gfm serve``).
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class ServeSettings:
    """Limits of the matting server; the defaults are safe for a laptop.

    Attributes:
        max_upload_bytes: largest request body (image, hint and background together).
        max_image_pixels: largest image, hint or background, read from the file's
            header before decoding (decompression bombs never reach memory).
        concurrency: requests computed at once (the network uses every core already).
        queue: requests that may wait for a free slot; beyond, 503 with ``Retry-After``.
        sessions: analysed images kept for corrections (least recently used dropped first).
        session_bytes: memory those sessions may hold together.
        upload_timeout_s: a client must send its body within this time (slow clients
            cannot hold a queue place forever).
        header_timeout_s: a connection must send its request headers within this
            time of opening (or of its previous response), or it is closed.
        max_connections: open connections at most; beyond, the oldest idle one is
            closed (idle connections cannot lock others out).
        allowed_hosts: the ``Host`` names served (DNS rebinding protection); ``"*"`` any.
        cors_origins: other origins (``http://host:port``) whose pages may use the API
            from a browser; by default only the server's own page.
    """

    max_upload_bytes: int = 25_000_000
    max_image_pixels: int = 4096 * 4096
    concurrency: int = 1
    queue: int = 8
    sessions: int = 16
    session_bytes: int = 1024 * 1024 * 1024
    upload_timeout_s: float = 60.0
    header_timeout_s: float = 10.0
    max_connections: int = 64
    allowed_hosts: tuple[str, ...] = LOCAL_HOSTS
    cors_origins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("max_upload_bytes", "max_image_pixels", "concurrency", "sessions", "session_bytes", "max_connections"):
            if getattr(self, name) < 1:
                raise ConfigError(f"serve setting {name} must be at least 1, got {getattr(self, name)}")
        if self.queue < 0:
            raise ConfigError(f"serve setting queue must be 0 or more, got {self.queue}")
        for name in ("upload_timeout_s", "header_timeout_s"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise ConfigError(f"serve setting {name} must be a positive number of seconds, got {value}")
        if self.max_connections < self.capacity:
            raise ConfigError(f"serve setting max_connections ({self.max_connections}) must be at least concurrency + queue ({self.capacity})")

    @property
    def capacity(self) -> int:
        """Requests admitted at once: computing plus waiting."""
        return self.concurrency + self.queue

    def limits(self) -> dict[str, float | int]:
        """The limits as the API reports them."""
        return {
            "max_upload_bytes": self.max_upload_bytes,
            "max_image_pixels": self.max_image_pixels,
            "concurrency": self.concurrency,
            "queue": self.queue,
            "sessions": self.sessions,
            "session_bytes": self.session_bytes,
            "upload_timeout_s": self.upload_timeout_s,
            "header_timeout_s": self.header_timeout_s,
            "max_connections": self.max_connections,
        }


__all__ = ["LOCAL_HOSTS", "LOOPBACK_HOSTS", "ServeSettings"]
