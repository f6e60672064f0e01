"""Request bodies: read within the limits, in memory, as named parts.

A body is either ``multipart/form-data`` (fields such as ``image``, ``hint``,
``background``) or one raw file whose ``Content-Type`` says what it is. The
framework's own form parsing spools large files to a temporary folder; the
server writes no files, so bodies are read here, bounded by
:attr:`~gfm.serve.settings.ServeSettings.max_upload_bytes` and the upload
timeout, and parsed in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

import anyio


class UploadError(Exception):
    """A body the server refuses: ``status`` (4xx) and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_body(stream: AsyncIterator[bytes], declared_length: str | None, limit: int, timeout_s: float) -> bytes:
    """Read a request body of at most ``limit`` bytes within ``timeout_s`` seconds.

    Raises:
        UploadError: 413 over the limit (refused from ``Content-Length`` before
            reading when declared), 408 too slow, 400 a malformed length.
    """
    too_large = f"the upload is larger than the server's limit of {limit / 1e6:.3g} MB; send a smaller file (or start the server with a larger --max-upload-mb)"
    if declared_length is not None:
        try:
            declared = int(declared_length)
        except ValueError:
            raise UploadError(400, f"malformed Content-Length {declared_length!r}") from None
        if declared > limit:
            raise UploadError(413, too_large)
    chunks: list[bytes] = []
    size = 0
    try:
        with anyio.fail_after(timeout_s):
            async for chunk in stream:
                size += len(chunk)
                if size > limit:
                    raise UploadError(413, too_large)
                chunks.append(chunk)
    except TimeoutError:
        raise UploadError(408, f"the upload took longer than {timeout_s:g} s; try again on a faster connection") from None
    return b"".join(chunks)


def media_type(content_type: str | None) -> str:
    """``"image/png; charset=x"`` -> ``"image/png"`` (lower case; ``""`` when absent)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_multipart(body: bytes, content_type: str, allowed: Iterable[str]) -> dict[str, bytes]:
    """The fields of a ``multipart/form-data`` body, ``{name: bytes}``.

    Raises:
        UploadError: 400 for a malformed body, an unknown or repeated field.
    """
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import MultipartParser, parse_options_header

    allowed = tuple(allowed)
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise UploadError(400, "multipart/form-data without a boundary; let the HTTP client build the form")
    fields: dict[str, bytes] = {}
    headers: dict[bytes, bytes] = {}
    state: dict[str, bytes | bytearray] = {"field": b"", "value": b"", "data": bytearray()}
    problems: list[str] = []

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] = bytes(state["field"]) + data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] = bytes(state["value"]) + data[start:end]

    def on_header_end() -> None:
        headers[bytes(state["field"]).lower()] = bytes(state["value"])
        state["field"], state["value"] = b"", b""

    def on_part_begin() -> None:
        headers.clear()
        state["data"] = bytearray()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        state["data"] += data[start:end]  # type: ignore[operator]

    def on_part_end() -> None:
        _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        if name not in allowed:
            problems.append(f"unknown form field {name!r}; this endpoint takes {', '.join(allowed)}")
        elif name in fields:
            problems.append(f"form field {name!r} sent twice; send one file for it")
        else:
            fields[name] = bytes(state["data"])

    callbacks = {
        "on_part_begin": on_part_begin,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
    }
    try:
        parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
        parser.write(body)
        parser.finalize()
    except (FormParserError, ValueError) as error:
        raise UploadError(400, f"malformed multipart/form-data body ({error}); let the HTTP client build the form") from None
    if problems:
        raise UploadError(400, problems[0])
    return fields


__all__ = ["UploadError", "media_type", "parse_multipart", "read_body"]
