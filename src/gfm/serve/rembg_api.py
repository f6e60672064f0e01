"""``/api/remove``: rembg's HTTP contract (``rembg s``), so that a rembg client works by
changing only the port.

=====================  =========================================================================
``POST /api/remove``   multipart field ``file`` (the image); form fields ``model``, ``a``,
                       ``af``, ``ab``, ``ae``, ``om``, ``ppm``, ``dc``, ``vm`` (the same names
                       in the query string are accepted too); query ``bgc`` (and ``extras``)
                       -> a PNG: the RGBA cutout; with ``om`` the alpha (grayscale); with
                       ``bgc`` the cutout over that colour (RGBA, as rembg does)
``GET /api/remove``    rembg fetches ``?url=`` from the server; gfm serve never fetches what a
                       client names, and answers 403 saying so
=====================  =========================================================================

What rembg's fields mean here (GFM is a matting network: every answer is a matte):

* ``model``: a weights name of ``gfm matte --model`` that this server runs (default: the
  served model); rembg's segmentation model names (``u2net``, ``isnet-general-use``,
  ``birefnet-general`` ...) go through :func:`guide_for_rembg_model`: accepted when the
  server runs that guide (``gfm serve --guide isnet-general-use``), else refused (422)
  with what is available.
* ``a``, ``af``, ``ab``, ``ae`` (alpha matting and its trimap thresholds), ``dc`` (colour
  decontamination), ``vm`` (ViTMatte): accepted and checked as rembg checks them; GFM
  mattes every image and estimates the foreground colours of every cutout, so they
  change nothing.
* ``om``: only the mask: the alpha matte as an 8-bit grayscale PNG.
* ``ppm``: post-process the mask: rembg makes it binary; here the alpha is thresholded
  at one half (no partial transparency left).
* ``bgc``: ``r,g,b,a`` as rembg takes it, or any colour of :mod:`gfm.io.colors`.
* ``extras``: rembg's per-model JSON options (a SAM prompt, a model path ...); refused
  unless empty: no client value is ever used as a path.
"""

from __future__ import annotations

import io
import json

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from PIL import Image

from gfm.errors import InputError
from gfm.inference.foreground import cutout, estimate_foreground
from gfm.io.colors import COLOUR_FORMS, RGBA, parse_rgba
from gfm.io.images import decode_image
from gfm.io.writers import PNG_COMPRESS_LEVEL
from gfm.serve.service import MattingService
from gfm.serve.uploads import UploadError, media_type, parse_multipart, read_body
from gfm.serve.validation import checks_own_query

#: rembg's model names (rembg 2.0.86, ``rembg.sessions.sessions_names``).
REMBG_MODELS = (
    "u2net", "u2netp", "u2net_human_seg", "u2net_cloth_seg", "u2net_custom", "silueta",
    "isnet-general-use", "isnet-anime", "dis_custom", "sam", "bria-rmbg", "ben_custom",
    "birefnet-general", "birefnet-general-lite", "birefnet-general-fp16", "birefnet-portrait",
    "birefnet-dis", "birefnet-hrsod", "birefnet-cod", "birefnet-massive", "withoutbg", "atlascloud",
)  # fmt: skip

#: rembg model name -> the gfm guide (a segmentation model steering GFM's glance) that plays its part.
_GUIDES: dict[str, str] = {"isnet-general-use": "isnet-general-use"}

#: Boolean form fields and their rembg defaults (all off).
_FLAGS = ("a", "om", "ppm", "dc", "vm")
#: Integer form fields: (default, lowest, highest or None), as rembg checks them.
_NUMBERS: dict[str, tuple[int, int, int | None]] = {"af": (240, 0, 255), "ab": (10, 0, 255), "ae": (10, 0, None)}
_FORM_FIELDS = ("file", "model", *_FLAGS, *_NUMBERS)
_QUERY_FIELDS = ("bgc", "extras", "model", *_FLAGS, *_NUMBERS)
_TRUE = frozenset({"1", "true", "on", "yes", "t", "y"})
_FALSE = frozenset({"0", "false", "off", "no", "f", "n", ""})


def guide_for_rembg_model(name: str) -> str | None:
    """The gfm guide that stands in for rembg's model ``name``, or ``None`` where there is none.

    The one place where rembg's segmentation model names meet gfm's guides:
    ``isnet-general-use`` -> the ``isnet-general-use`` guide.
    """
    return _GUIDES.get(name)


class RembgRequest:
    """The fields of one ``/api/remove`` request, checked as rembg checks them.

    Attributes:
        model: the ``model`` field, or ``None`` (the served model).
        only_mask: ``om``. post_process: ``ppm``. background: ``bgc`` as RGBA, or ``None``.
        ignored: the fields given that change nothing here (``a``, ``dc`` ...), for the log.
    """

    def __init__(self, fields: dict[str, str]) -> None:
        self.model = fields.get("model") or None
        flags = {name: _flag(name, fields.get(name, "")) for name in _FLAGS}
        for name, (default, low, high) in _NUMBERS.items():
            _number(name, fields.get(name), default, low, high)
        self.only_mask = flags["om"]
        self.post_process = flags["ppm"]
        self.ignored = [name for name in ("a", "dc", "vm", *_NUMBERS) if name in fields]
        self.background: RGBA | None = None
        if fields.get("bgc"):
            try:
                self.background = parse_rgba(fields["bgc"])
            except InputError:
                raise UploadError(422, f"bgc {fields['bgc']!r}: give r,g,b,a (each 0..255, as rembg takes it) or {COLOUR_FORMS}") from None
        extras = (fields.get("extras") or "").strip()
        if extras and _non_empty_json(extras):
            raise UploadError(422, "extras: rembg's per-model options (SAM prompts, model paths, API keys) have no meaning "
                                   "for gfm serve, which never reads a path a client sends; leave extras out")


def _flag(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise UploadError(422, f"{name}={text!r}: expected true or false")


def _number(name: str, text: str | None, default: int, low: int, high: int | None) -> int:
    if text is None or not text.strip():
        return default
    try:
        value = int(text)
    except ValueError:
        raise UploadError(422, f"{name}={text!r}: expected a whole number") from None
    if value < low or (high is not None and value > high):
        span = f"from {low} to {high}" if high is not None else f"{low} or more"
        raise UploadError(422, f"{name}={value}: must be {span}")
    return value


def _non_empty_json(text: str) -> bool:
    try:
        return bool(json.loads(text))
    except ValueError:
        return True


def served_names(service: MattingService) -> list[str]:
    """The ``model`` names this server answers to: the weights it runs (``gfm serve --model``)."""
    return [str(entry["spec"]) for entry in service.describe.get("models", []) if "spec" in entry]


def check_model(name: str | None, service: MattingService) -> None:
    """Accept the served weights' name; route rembg's model names through
    :func:`guide_for_rembg_model`; refuse anything else with what is available.

    Raises:
        UploadError: 422 naming the models and guides this server offers.
    """
    served = served_names(service)
    if name is None or name in served:
        return
    serving_guide = (service.describe.get("guide") or {}).get("name")
    available = f"this server runs {', '.join(served) or 'one model'}{f' guided by {serving_guide}' if serving_guide else ''} (leave model out for it)"
    if name in REMBG_MODELS:
        guide = guide_for_rembg_model(name)
        if guide is None:
            raise UploadError(422, f"model {name!r} is rembg's segmentation model; gfm has no guide standing in for it. "
                                   f"{available}; rembg names with a gfm guide: {', '.join(sorted(_GUIDES))}")
        if guide == serving_guide:
            return  # rembg's segmentation model steers GFM here: the served predictor runs it
        raise UploadError(422, f"model {name!r}: gfm's {guide!r} guide stands in for it, but this server runs without it; "
                               f"{available}. Start `gfm serve --guide {guide}` (once: `gfm weights download {guide}`)")
    raise UploadError(422, f"model {name!r} is not served here: {available}. To serve other weights, start "
                           f"`gfm serve --model {name}` (names: `gfm weights list`)")


def render(image_bytes: bytes, request: RembgRequest, service: MattingService) -> bytes:
    """The PNG rembg's ``remove`` would answer, with GFM's matte (runs on a worker thread)."""
    image = decode_image(image_bytes, "file", service.settings.max_image_pixels)
    alpha = service.guided.predictor.predict(image).alpha
    if request.post_process:
        alpha = (alpha >= 0.5).astype(np.float32)
    if request.only_mask:
        return _png(Image.fromarray(np.clip(np.rint(alpha * 255.0), 0, 255).astype(np.uint8), "L"))
    rgba = Image.fromarray(cutout(estimate_foreground(image, alpha, "fast"), alpha), "RGBA")
    if request.background is not None:  # rembg: the cutout composited over an RGBA canvas of that colour
        rgba = Image.alpha_composite(Image.new("RGBA", rgba.size, request.background), rgba)
    return _png(rgba)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def _fields(parts: dict[str, bytes], query: dict[str, str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name, value in parts.items():
        if name != "file":
            fields[name] = value.decode("utf-8", "replace")
    for name, value in query.items():
        if name in fields and fields[name] != value:
            raise UploadError(422, f"{name} is given twice, in the form ({fields[name]!r}) and the query ({value!r}); give it once")
        fields[name] = value
    return fields


def add_rembg_routes(app: FastAPI, service: MattingService) -> None:
    """Add ``POST /api/remove`` and the refusing ``GET /api/remove`` to ``app``."""

    @app.get("/api/remove", summary="rembg's fetch-a-URL endpoint: refused (the server fetches nothing)", status_code=403,
             responses={403: {"description": "gfm serve never fetches URLs"}})
    @checks_own_query  # any query (rembg's ?url=...) gets the reason below
    async def remove_from_url(request: Request) -> JSONResponse:
        return JSONResponse(
            {"detail": "gfm serve does not fetch images from URLs: a server that downloads whatever a client names can be "
                       "made to reach machines behind it. Download the image yourself and send it: "
                       "curl -s -F file=@input.jpg http://HOST:PORT/api/remove -o output.png"},
            status_code=403,
        )

    @app.post("/api/remove", summary="rembg's API: multipart field `file` in, the cutout PNG out", response_class=Response,
              openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                  "type": "object", "required": ["file"],
                  "properties": {"file": {"type": "string", "format": "binary"}, "model": {"type": "string"},
                                 **{name: {"type": "boolean", "default": False} for name in _FLAGS},
                                 **{name: {"type": "integer", "default": spec[0]} for name, spec in _NUMBERS.items()}}}}}}})
    @checks_own_query  # rembg's fields come in the form or the query: checked here, once each
    async def remove(request: Request) -> Response:
        query = dict(request.query_params)
        unknown = sorted(set(query) - set(_QUERY_FIELDS))
        if unknown:
            raise UploadError(422, f"unknown query parameter {unknown[0]!r}; /api/remove takes {', '.join(_QUERY_FIELDS)}")
        names = [name for name, _ in request.query_params.multi_items()]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise UploadError(422, f"query parameter {repeated[0]!r} given more than once; give it once")
        async with service.admission():
            body = await read_body(request.stream(), request.headers.get("content-length"), service.settings.max_upload_bytes,
                                   service.settings.upload_timeout_s)
            if media_type(request.headers.get("content-type")) != "multipart/form-data":
                raise UploadError(415, "send the image as the multipart/form-data field 'file' (curl -F file=@input.jpg), as rembg takes it")
            parts = parse_multipart(body, request.headers["content-type"], _FORM_FIELDS)
            if "file" not in parts:
                raise UploadError(422, "the form has no 'file' field; send the image as the form field 'file' (curl -F file=@input.jpg)")
            fields = RembgRequest(_fields(parts, query))
            check_model(fields.model, service)
            png = await service.compute(lambda: render(parts["file"], fields, service))
        return Response(png, media_type="image/png", headers={"X-GFM-Model": str(service.describe.get("summary", "")),
                                                              "Cache-Control": "no-store"})


__all__ = ["REMBG_MODELS", "RembgRequest", "add_rembg_routes", "check_model", "guide_for_rembg_model", "render", "served_names"]
