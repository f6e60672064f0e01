"""The HTTP API and the page: a FastAPI application built around one :class:`MattingService`.

====================================== =============================================================
``GET /``                              the web page (``/static/*``: its scripts and style)
``GET /api/health``                    ``{"status": "ok", running, waiting, capacity, sessions}``
``GET /api/model``                     the model, strategy, device, limits and outputs
``POST /api/matte``                    an image in (multipart field ``image``, optional ``hint`` and
                                       ``background``; or the raw file) -> a PNG (``?output=``), with
                                       ``X-GFM-Session`` for corrections
``POST /api/sessions/{id}/matte``      a hint map in (multipart ``hint`` or a raw PNG; none = plain)
                                       -> the corrected PNG, without running the network again
``DELETE /api/sessions/{id}``          forget an image
``POST /api/remove``                   rembg's API (:mod:`gfm.serve.rembg_api`)
``GET /openapi.json``                  the API's description (from the framework; no ``/docs`` or
                                       ``/redoc`` pages: they load scripts from a CDN)
====================================== =============================================================

Every refusal is a 4xx (or 503 when busy) with a JSON body ``{"detail": message}``, a string;
unknown or repeated query parameters are refused (:mod:`gfm.serve.validation`). Requests
must name a trusted host, and state-changing ones come from the server's own page or an
origin of ``--cors-origin`` (:mod:`gfm.serve.guard`). Nothing a client sends is used as a
file path, and nothing is written to disk.
"""

from __future__ import annotations

import importlib.resources
from typing import Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from gfm import __version__
from gfm.errors import GFMError, ImageTooLargeError, InputError
from gfm.inference.foreground import parse_color
from gfm.serve.guard import RequestGuard
from gfm.serve.rembg_api import add_rembg_routes
from gfm.serve.service import Busy, MattingService, Rendered, RenderOptions, SessionNotFound
from gfm.serve.uploads import UploadError, media_type, parse_multipart, read_body
from gfm.serve.validation import install_error_handlers, strict_query

#: The page's files, served from memory by name (never a client-chosen path): its style and
#: its JavaScript modules (app.js, the entry, imports the others).
_JAVASCRIPT = "text/javascript; charset=utf-8"
STATIC_FILES = {
    "app.js": _JAVASCRIPT, "api.js": _JAVASCRIPT, "downloads.js": _JAVASCRIPT, "hints.js": _JAVASCRIPT,
    "outputs.js": _JAVASCRIPT, "photos.js": _JAVASCRIPT, "state.js": _JAVASCRIPT, "view.js": _JAVASCRIPT,
    "style.css": "text/css; charset=utf-8",
}

Output = Literal["cutout", "alpha", "foreground", "composite", "trimap"]
ForegroundMethod = Literal["fast", "ml", "blur", "none"]

_OUTPUT_HELP = "cutout (RGBA), alpha (gray), foreground (RGB colours), composite (RGB on `background`) or trimap (the glance map the fusion used, hints included: 0 / 128 / 255)"
_IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["image"],
                    "properties": {
                        "image": {"type": "string", "format": "binary", "description": "the photo (JPEG, PNG, WebP, TIFF ...)"},
                        "hint": {"type": "string", "format": "binary", "description": "optional hint PNG of the image's size: 0 background, 128 transition, 255 foreground, transparent unknown"},
                        "background": {"type": "string", "format": "binary", "description": "optional background image for output=composite"},
                    },
                }
            },
            "image/*": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
_HINT_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "hint": {"type": "string", "format": "binary", "description": "hint PNG of the image's size (see POST /api/matte)"},
                        "background": {"type": "string", "format": "binary", "description": "optional background image for output=composite"},
                    },
                }
            },
            "image/png": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


def _options(output: str, foreground: str, background: str, alpha_bits: int, max_side: int | None, background_image: bytes | None) -> RenderOptions:
    if alpha_bits not in (8, 16):
        raise UploadError(422, f"alpha_bits must be 8 or 16, got {alpha_bits}")
    try:
        colour = parse_color(background)
    except InputError as error:
        raise UploadError(422, f"background: {error}") from None
    return RenderOptions(output, foreground, colour, background_image, alpha_bits, max_side)


def _png_response(rendered: Rendered, service: MattingService) -> Response:
    height, width = rendered.session.size
    timing = ", ".join(f"{name};dur={ms:.1f}" for name, ms in rendered.timings.items())
    headers = {
        "X-GFM-Session": rendered.session.id,
        "X-GFM-Image-Size": f"{width}x{height}",
        "X-GFM-Output-Size": f"{rendered.size[1]}x{rendered.size[0]}",
        "X-GFM-Model": str(service.describe.get("summary", "")),
        "X-GFM-Time-Ms": f"{sum(rendered.timings.values()):.1f}",
        "Server-Timing": timing,
        "Cache-Control": "no-store",
    }
    return Response(rendered.png, media_type="image/png", headers=headers)


def create_app(service: MattingService) -> FastAPI:
    """The application: the page and the API around ``service`` (model loaded once, shared)."""
    app = FastAPI(
        title="gfm serve",
        summary="Glance and Focus Matting over HTTP, with guided corrections",
        version=__version__,
        docs_url=None,  # the framework's pages load their scripts from a CDN: off (offline, CSP)
        redoc_url=None,
        dependencies=[Depends(strict_query)],  # unknown or repeated query parameters: 422
    )
    app.state.service = service
    app.add_middleware(RequestGuard, allowed_hosts=service.settings.allowed_hosts, cors_origins=service.settings.cors_origins)
    install_error_handlers(app)
    package = importlib.resources.files("gfm.serve") / "static"
    index_html = (package / "index.html").read_bytes()
    static = {name: (package / name).read_bytes() for name in STATIC_FILES}

    @app.exception_handler(UploadError)
    async def _upload_error(request: Request, error: UploadError) -> JSONResponse:
        return _error(error.status, error.message)

    @app.exception_handler(Busy)
    async def _busy(request: Request, error: Busy) -> JSONResponse:
        return _error(503, str(error), {"Retry-After": str(error.retry_after)})

    @app.exception_handler(SessionNotFound)
    async def _gone(request: Request, error: SessionNotFound) -> JSONResponse:
        return _error(404, "unknown session: the server forgets the oldest images to bound its memory, or was restarted; upload the image again")

    @app.exception_handler(GFMError)
    async def _gfm_error(request: Request, error: GFMError) -> JSONResponse:
        return _error(413 if isinstance(error, ImageTooLargeError) else 400, str(error))

    @app.exception_handler(ClientDisconnect)
    async def _disconnected(request: Request, error: ClientDisconnect) -> JSONResponse:
        return _error(400, "the client disconnected before sending the whole body")

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        return Response(index_html, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"})

    @app.get("/static/{name}", include_in_schema=False)
    async def static_file(name: str) -> Response:
        if name not in static:
            return _error(404, f"no static file {name!r}")
        return Response(static[name], media_type=STATIC_FILES[name], headers={"Cache-Control": "no-cache"})

    @app.get("/api/health", summary="Liveness and load")
    async def health() -> dict[str, Any]:
        return service.health()

    @app.get("/api/model", summary="The model, strategy, device, limits and outputs")
    async def model() -> dict[str, Any]:
        return {**service.describe, "limits": service.settings.limits(), "outputs": list(Output.__args__)}  # type: ignore[attr-defined]

    @app.post("/api/matte", summary="Matte an image: PNG out, a session for corrections", openapi_extra=_IMAGE_BODY, response_class=Response)
    async def matte(
        request: Request,
        output: Output = Query("cutout", description=_OUTPUT_HELP),
        foreground: ForegroundMethod = Query("fast", description="foreground colours: fast (pymatting's multi-level energy on the transition band; default), ml (pymatting multi-level), blur (Blur-Fusion: quick, less exact) or none (image x alpha)"),
        background: str = Query("white", description="composite colour: a CSS name (white, purple ...), #rgb, #rrggbb, rgb(r,g,b) or r,g,b"),
        alpha_bits: int = Query(8, description="bit depth of output=alpha: 8 or 16"),
        max_side: int | None = Query(None, ge=16, le=65536, description="a preview: scale the output so that its longer side is at most this many pixels (faster foreground colours); default full size"),
    ) -> Response:
        async with service.admission():
            body = await read_body(request.stream(), request.headers.get("content-length"), service.settings.max_upload_bytes, service.settings.upload_timeout_s)
            kind = media_type(request.headers.get("content-type"))
            if kind == "multipart/form-data":
                fields = parse_multipart(body, request.headers["content-type"], ("image", "hint", "background"))
                if "image" not in fields:
                    raise UploadError(400, "the form has no 'image' field; send the photo as the form field 'image'")
                image, hint, background_image = fields["image"], fields.get("hint"), fields.get("background")
            elif kind.startswith("image/") or kind == "application/octet-stream":
                image, hint, background_image = body, None, None
            else:
                raise UploadError(415, f"Content-Type {kind or '(none)'} is not an image; send the photo as multipart/form-data field 'image' or as the raw body with Content-Type image/jpeg, image/png ...")
            options = _options(output, foreground, background, alpha_bits, max_side, background_image)
            rendered = await service.compute(lambda: service.analyse(image, hint, options))
        return _png_response(rendered, service)

    @app.post("/api/sessions/{session_id}/matte", summary="Correct a matte with a hint map (no network pass)", openapi_extra=_HINT_BODY, response_class=Response)
    async def correct(
        session_id: str,
        request: Request,
        output: Output = Query("cutout", description=_OUTPUT_HELP),
        foreground: ForegroundMethod = Query("fast", description="foreground colours: fast (default), ml, blur or none"),
        background: str = Query("white", description="composite colour: a CSS name (white, purple ...), #rgb, #rrggbb, rgb(r,g,b) or r,g,b"),
        alpha_bits: int = Query(8, description="bit depth of output=alpha: 8 or 16"),
        max_side: int | None = Query(None, ge=16, le=65536, description="a preview: scale the output so that its longer side is at most this many pixels (faster foreground colours); default full size"),
    ) -> Response:
        service.sessions.get(session_id)  # 404 before reading a body for nothing
        async with service.admission("correct"):
            body = await read_body(request.stream(), request.headers.get("content-length"), service.settings.max_upload_bytes, service.settings.upload_timeout_s)
            kind = media_type(request.headers.get("content-type"))
            if kind == "multipart/form-data":
                fields = parse_multipart(body, request.headers["content-type"], ("hint", "background"))
                hint, background_image = fields.get("hint"), fields.get("background")
            elif not body:
                hint, background_image = None, None
            elif kind in ("image/png", "application/octet-stream"):
                hint, background_image = body, None
            else:
                raise UploadError(415, f"Content-Type {kind or '(none)'}: send the hint map as a PNG (Content-Type image/png) or as the multipart/form-data field 'hint'")
            options = _options(output, foreground, background, alpha_bits, max_side, background_image)
            rendered = await service.compute(lambda: service.correct(session_id, hint, options), "correct")
        return _png_response(rendered, service)

    @app.delete("/api/sessions/{session_id}", status_code=204, summary="Forget an image", response_class=Response)
    async def forget(session_id: str) -> Response:
        if not service.sessions.remove(session_id):
            raise SessionNotFound(session_id)
        return Response(status_code=204)

    add_rembg_routes(app, service)
    return app


__all__ = ["create_app"]
