"""Query parameters taken exactly as documented, and the framework's refusals as one-string JSON.

* :func:`strict_query` (an application-wide dependency): a query parameter the
  endpoint does not declare (``?outptu=alpha``), or one given twice
  (``?output=alpha&output=cutout``), is a 422 rather than silently ignored or
  overridden. Endpoints added later are covered without doing anything.
* :func:`install_error_handlers`: FastAPI's own validation errors (a value out
  of range, not a number, not one of the choices) become 422 with ``detail`` a
  string naming the parameter, as docs/serve.md documents, not the framework's list;
  an unexpected error is a JSON 500, not the framework's plain text.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


F = TypeVar("F", bound=Callable[..., Any])


class QueryError(Exception):
    """A query string the endpoint does not accept (answered 422 with ``message``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _takes_several(annotation: Any) -> bool:
    """Whether a parameter's type is a list (``?tag=a&tag=b``), possibly optional."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_takes_several(arg) for arg in typing.get_args(annotation))
    return origin in (list, tuple, set, frozenset) or annotation in (list, tuple, set, frozenset)


def _query_fields(dependant: Any) -> list[Any]:
    """The query parameters of an endpoint and of every dependency it has."""
    fields = list(dependant.query_params)
    for sub in dependant.dependencies:
        fields += _query_fields(sub)
    return fields


def _declared(route: Any) -> dict[str, bool]:
    """The route's query parameter names (aliases), each with whether it takes several values."""
    cached = getattr(route, "_gfm_query_names", None)
    if cached is None:
        cached = {
            field.alias: _takes_several(field.field_info.annotation)
            for field in _query_fields(route.dependant)
        }
        route._gfm_query_names = cached
    return cached


async def strict_query(request: Request) -> None:
    """Refuse unknown and repeated query parameters (use as ``FastAPI(dependencies=[Depends(strict_query)])``).

    Raises:
        QueryError: naming the parameter and the ones the endpoint takes.
    """
    route = request.scope.get("route")
    if route is None or not hasattr(route, "dependant") or getattr(getattr(route, "endpoint", None), "checks_own_query", False):
        return
    declared = _declared(route)
    seen: set[str] = set()
    for name, _ in request.query_params.multi_items():
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise QueryError(f"unknown query parameter {name!r}; {request.url.path} takes: {known}")
        if name in seen and not declared[name]:
            raise QueryError(f"query parameter {name!r} given more than once; give it once")
        seen.add(name)


def checks_own_query(endpoint: F) -> F:
    """Mark an endpoint that reads and checks its query itself (rembg's ``/api/remove``, whose
    fields may come in the form or the query): :func:`strict_query` leaves it alone."""
    endpoint.checks_own_query = True  # type: ignore[attr-defined]
    return endpoint


def describe_validation_error(error: RequestValidationError) -> str:
    """The framework's list of problems as one sentence: ``"max_side: ... (got 3)"``."""
    parts = []
    for problem in error.errors():
        location = [str(p) for p in problem.get("loc", ()) if p not in ("query", "path", "body", "header")]
        name = ".".join(location) or "request"
        text = f"{name}: {problem.get('msg', 'invalid value')}"
        if "input" in problem and problem["input"] is not None:
            text += f" (got {problem['input']!r})"
        parts.append(text)
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    """422 with a string ``detail`` for query problems and the framework's validation errors."""

    @app.exception_handler(QueryError)
    async def _query_error(request: Request, error: QueryError) -> JSONResponse:
        return JSONResponse({"detail": error.message}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": describe_validation_error(error)}, status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:  # the traceback still goes to the log
        return JSONResponse({"detail": f"internal error ({type(error).__name__}); this is a bug in gfm serve, please report it"}, status_code=500)


__all__ = ["QueryError", "checks_own_query", "describe_validation_error", "install_error_handlers", "strict_query"]
