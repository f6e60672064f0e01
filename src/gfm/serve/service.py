"""The matting service behind the HTTP API: one model, a bounded queue, cached sessions.

The model is loaded once and shared. At most ``concurrency`` requests compute at
once; up to ``queue`` more wait for a slot; any request beyond is refused at
once with :class:`Busy` (the API answers 503 with ``Retry-After``), before its
body is even read, so memory stays bounded by ``capacity x max_upload_bytes``.

Each matted image becomes a :class:`Session`: the image and its network
outputs (:class:`~gfm.inference.guided.NetworkMaps`), so that a correction
with a hint map costs only the fusion and the foreground colours.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import cv2
import numpy as np
from PIL import Image

from gfm.inference.foreground import composite, cutout, estimate_foreground
from gfm.inference.guided import GuidedPredictor, NetworkMaps
from gfm.inference.predictor import MattingResult
from gfm.io.hints import decode_hint
from gfm.io.images import decode_image
from gfm.io.writers import PNG_COMPRESS_LEVEL
from gfm.serve.memory import release_memory
from gfm.serve.settings import ServeSettings

T = TypeVar("T")

#: What a request can ask for; all are PNG.
OUTPUTS = ("cutout", "alpha", "foreground", "composite", "trimap")
FOREGROUND_OUTPUTS = ("cutout", "foreground", "composite")
#: Foreground estimation on the server: the closed form is far too slow to offer.
SERVER_FOREGROUND_METHODS = ("fast", "ml", "blur", "none")
#: The service time assumed for a request before any was measured (seconds).
DEFAULT_SERVICE_S = 2.0


class Busy(Exception):
    """Every computing slot and queue place is taken; retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the server is busy (every slot and queue place is taken); retry in {retry_after} s")
        self.retry_after = retry_after


class SessionNotFound(Exception):
    """The session id is unknown or was dropped to free memory."""


@dataclass
class Rendered:
    """One response: the PNG bytes and how long each step took (milliseconds)."""

    png: bytes
    timings: dict[str, float]
    session: Session
    size: tuple[int, int]  # (H, W) of the output: the image's, or a preview's


@dataclass
class Session:
    """An analysed image kept for corrections.

    Attributes:
        id: unguessable (others cannot fetch your image).
        image: ``(H, W, 3)`` uint8 RGB.
        maps: the network's outputs of the image.
        last: the latest fusion, and foreground colours by (method, size), reused
            when the next request has the same hint (downloads after a correction):
            at most one at full size and one at a preview size (:data:`FOREGROUNDS_KEPT`).
        previews: the image scaled to a preview size (one kept).

    Every cached array is counted in :attr:`nbytes`, which the store bounds.
    """

    id: str
    image: np.ndarray
    maps: NetworkMaps
    lock: threading.Lock = field(default_factory=threading.Lock)
    last: tuple[bytes, MattingResult, dict[tuple[str, tuple[int, int]], np.ndarray]] | None = None
    previews: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        """Bytes held: the image, the network maps and every cached array (fusion, colours, preview)."""
        total = self.image.nbytes + self.maps.nbytes
        total += sum(a.nbytes for a in list(self.previews.values()))
        last = self.last
        if last is not None:
            _, result, foregrounds = last
            total += result.alpha.nbytes + (result.trimap.nbytes if result.trimap is not None else 0)
            total += sum(a.nbytes for a in list(foregrounds.values()))
        return total

    def image_at(self, size: tuple[int, int]) -> np.ndarray:
        """The image at ``(H, W)``: itself, or a cached downscaled copy (one preview size kept)."""
        if size == self.size:
            return self.image
        if size not in self.previews:
            self.previews.clear()
            self.previews[size] = cv2.resize(self.image, (size[1], size[0]), interpolation=cv2.INTER_AREA)
        return self.previews[size]

    def keep_foreground(self, foregrounds: dict[tuple[str, tuple[int, int]], np.ndarray], method: str, size: tuple[int, int], colours: np.ndarray) -> None:
        """Cache ``colours`` (``method`` at ``size``): one entry at full size and one at a
        preview size at most, so that a page resized many times holds no more than two."""
        full = size == self.size
        for stale in [key for key in foregrounds if (key[1] == self.size) == full]:
            del foregrounds[stale]
        foregrounds[(method, size)] = colours

    @property
    def size(self) -> tuple[int, int]:
        return self.maps.size


#: Foreground colour arrays a session keeps at most: one at full size, one at a preview size.
FOREGROUNDS_KEPT = 2


class SessionStore:
    """Sessions by id, least recently used dropped first beyond a count or a memory budget.

    The budget counts every array a session holds (:attr:`Session.nbytes`), caches
    included; :meth:`trim` applies it again after a session's caches grew. Memory of
    dropped sessions is handed back to the operating system
    (:func:`gfm.serve.memory.release_memory`).
    """

    def __init__(self, max_count: int, max_bytes: int) -> None:
        self.max_count = max_count
        self.max_bytes = max_bytes
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, session: Session) -> None:
        with self._lock:
            self._sessions[session.id] = session
        self.trim()

    def trim(self) -> None:
        """Drop the least recently used sessions while over the count or the memory budget.

        The most recently used one stays even when it alone exceeds the budget: it is
        the one in use."""
        dropped = []
        with self._lock:
            while len(self._sessions) > 1 and (len(self._sessions) > self.max_count or self._nbytes() > self.max_bytes):
                dropped.append(self._sessions.popitem(last=False)[1])
        if dropped:
            del dropped
            release_memory()

    def get(self, session_id: str) -> Session:
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                raise SessionNotFound(session_id)
            self._sessions.move_to_end(session_id)
            return session

    def remove(self, session_id: str) -> bool:
        with self._lock:
            removed = self._sessions.pop(session_id, None)
        if removed is None:
            return False
        del removed
        release_memory()
        return True

    def __len__(self) -> int:
        return len(self._sessions)

    def _nbytes(self) -> int:
        return sum(s.nbytes for s in list(self._sessions.values()))

    @property
    def nbytes(self) -> int:
        """Bytes the sessions hold together, caches included."""
        with self._lock:
            return self._nbytes()


def encode_png(array: np.ndarray) -> bytes:
    """``(H, W)`` uint8 / uint16 or ``(H, W, 3|4)`` uint8 -> PNG bytes (in memory)."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


@dataclass(frozen=True)
class RenderOptions:
    """What a request asks for.

    Attributes:
        output: one of :data:`OUTPUTS`.
        foreground: ``"fast"``, ``"ml"``, ``"blur"`` or ``"none"`` (see :func:`gfm.inference.estimate_foreground`).
        background: composite background, an RGB colour ...
        background_image: ... or an encoded image (resized to cover).
        alpha_bits: 8 or 16 for ``alpha``.
        max_side: a preview: the output scaled down so that its longer side is at
            most this (the foreground colours are then estimated at that size,
            which keeps corrections of large photos interactive); ``None``: full size.
    """

    output: str = "cutout"
    foreground: str = "fast"
    background: tuple[int, int, int] = (255, 255, 255)
    background_image: bytes | None = None
    alpha_bits: int = 8
    max_side: int | None = None

    def size_for(self, height: int, width: int) -> tuple[int, int]:
        """The output ``(H, W)`` of an image of ``(height, width)``."""
        if self.max_side is None or max(height, width) <= self.max_side:
            return height, width
        scale = self.max_side / max(height, width)
        return max(1, round(height * scale)), max(1, round(width * scale))


class MattingService:
    """The shared model, the admission queue and the sessions.

    Args:
        guided: the predictor (model, strategy, device) wrapped for hints.
        settings: limits.
        describe: what ``GET /api/model`` reports about the model.
    """

    def __init__(self, guided: GuidedPredictor, settings: ServeSettings, describe: dict[str, Any]) -> None:
        self.guided = guided
        self.settings = settings
        self.describe = describe
        self.sessions = SessionStore(settings.sessions, settings.session_bytes)
        self._slots: anyio.Semaphore | None = None
        self.admitted = 0  # requests between admission and their response (computing or waiting)
        self.running = 0
        self._admitted_by_kind: dict[str, int] = {}
        self._recent_s: dict[str, deque[float]] = {}  # service times of recent requests, by kind

    # ------------------------------------------------------------------ admission

    def service_time(self, kind: str) -> float:
        """The recent mean service time of a request of ``kind`` (seconds): measured for that
        kind, else for any kind (the slowest), else :data:`DEFAULT_SERVICE_S`."""
        times = self._recent_s.get(kind)
        if times:
            return sum(times) / len(times)
        means = [sum(t) / len(t) for t in self._recent_s.values() if t]
        return max(means) if means else DEFAULT_SERVICE_S

    def retry_after(self) -> int:
        """Seconds until the requests admitted now are likely done: each one's kind's measured
        service time, shared among the computing slots (1 to 600)."""
        ahead = sum(count * self.service_time(kind) for kind, count in self._admitted_by_kind.items())
        return max(1, min(600, math.ceil(ahead / self.settings.concurrency)))

    @contextlib.asynccontextmanager
    async def admission(self, kind: str = "matte") -> AsyncIterator[None]:
        """Hold a queue place for the whole request, or raise :class:`Busy` at once.

        ``kind`` names the work (``"matte"``, ``"correct"`` ...): its measured pace
        sets the ``Retry-After`` of refused requests. Runs on the event loop
        (single-threaded): the counters need no lock.
        """
        if self.admitted >= self.settings.capacity:
            raise Busy(self.retry_after())
        self.admitted += 1
        self._admitted_by_kind[kind] = self._admitted_by_kind.get(kind, 0) + 1
        try:
            yield
        finally:
            self.admitted -= 1
            self._admitted_by_kind[kind] -= 1

    async def compute(self, work: Callable[[], T], kind: str = "matte") -> T:
        """Wait for a computing slot, then run ``work`` on a worker thread (its time is
        recorded as ``kind``'s pace)."""
        if self._slots is None:
            self._slots = anyio.Semaphore(self.settings.concurrency)
        async with self._slots:
            self.running += 1
            start = time.perf_counter()
            try:
                # Not abandoned on cancellation: the slot stays taken until the thread is done.
                return await anyio.to_thread.run_sync(work)
            finally:
                self.running -= 1
                self._recent_s.setdefault(kind, deque(maxlen=16)).append(time.perf_counter() - start)

    # ------------------------------------------------------------------ work (worker threads)

    def analyse(self, image_bytes: bytes, hint_bytes: bytes | None, options: RenderOptions) -> Rendered:
        """Decode an uploaded image, run the network once, keep a session, render."""
        timings: dict[str, float] = {}
        with _timed(timings, "decode"):
            image = decode_image(image_bytes, "image", self.settings.max_image_pixels)
            hints = decode_hint(hint_bytes, image.shape[:2], "hint") if hint_bytes else None
        with _timed(timings, "network"):
            maps = self.guided.analyse(image)
        session = Session(secrets.token_urlsafe(16), image, maps)
        self.sessions.add(session)
        return self._render(session, hint_bytes, hints, options, timings)

    def correct(self, session_id: str, hint_bytes: bytes | None, options: RenderOptions) -> Rendered:
        """Render a session again with a hint map: fusion and foreground colours only."""
        session = self.sessions.get(session_id)
        timings: dict[str, float] = {}
        with _timed(timings, "decode"):
            hints = decode_hint(hint_bytes, session.size, "hint") if hint_bytes else None
        return self._render(session, hint_bytes, hints, options, timings)

    def _render(self, session: Session, hint_bytes: bytes | None, hints: np.ndarray | None, options: RenderOptions, timings: dict[str, float]) -> Rendered:
        key = hashlib.sha256(hint_bytes or b"").digest()
        size = options.size_for(*session.size)
        with session.lock:  # one render of a session at a time; the cache is per session
            if session.last is not None and session.last[0] == key:
                _, result, foregrounds = session.last
            else:
                with _timed(timings, "fusion"):
                    result = self.guided.fuse(session.maps, hints)  # always at full size: milliseconds
                foregrounds = {}
                session.last = (key, result, foregrounds)
            image = session.image_at(size)
            alpha, trimap = result.alpha, result.trimap
            assert trimap is not None  # GuidedPredictor.fuse always returns it
            if size != session.size:
                alpha = cv2.resize(alpha, (size[1], size[0]), interpolation=cv2.INTER_AREA)
                trimap = cv2.resize(trimap, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
            foreground = None
            if options.output in FOREGROUND_OUTPUTS:
                foreground = foregrounds.get((options.foreground, size))
                if foreground is None:
                    with _timed(timings, "foreground"):
                        foreground = estimate_foreground(image, alpha, options.foreground)
                    session.keep_foreground(foregrounds, options.foreground, size, foreground)
            output = self._output(alpha, trimap, foreground, options)
            with _timed(timings, "encode"):
                png = encode_png(output)
        self.sessions.trim()  # the caches may have grown: the budget holds for them too
        return Rendered(png, timings, session, size)

    def _output(self, alpha: np.ndarray, trimap: np.ndarray, foreground: np.ndarray | None, options: RenderOptions) -> np.ndarray:
        if options.output == "alpha":
            if options.alpha_bits == 16:
                return np.clip(np.rint(alpha * 65535.0), 0, 65535).astype(np.uint16)
            return np.clip(np.rint(alpha * 255.0), 0, 255).astype(np.uint8)
        if options.output == "trimap":
            return trimap
        assert foreground is not None
        if options.output == "cutout":
            return cutout(foreground, alpha)
        if options.output == "foreground":
            return foreground
        background: np.ndarray | tuple[int, int, int] = options.background
        if options.background_image is not None:
            background = decode_image(options.background_image, "background", self.settings.max_image_pixels)
        return composite(foreground, alpha, background)

    # ------------------------------------------------------------------ reporting

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "running": self.running,
            "waiting": max(0, self.admitted - self.running),
            "capacity": self.settings.capacity,
            "sessions": len(self.sessions),
            "session_bytes": self.sessions.nbytes,
        }


@contextlib.contextmanager
def _timed(timings: dict[str, float], name: str) -> Any:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = timings.get(name, 0.0) + (time.perf_counter() - start) * 1000.0


__all__ = ["Busy", "FOREGROUND_OUTPUTS", "MattingService", "OUTPUTS", "RenderOptions", "Rendered", "Session", "SessionNotFound", "SessionStore", "encode_png"]
