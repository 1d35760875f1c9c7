"""The one place errors become HTTP responses, all in OpenAI's error shape."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from envelope.errors import EnvelopeError, ErrorBody, ErrorDetail, MethodNotAllowed, NotFound

log = logging.getLogger("envelope.http")
_JSON = "application/json"


def error_response(exc: EnvelopeError, headers: Mapping[str, str] | None = None) -> Response:
    return Response(exc.encode(), status_code=exc.status, media_type=_JSON, headers={**(headers or {}), **exc.headers})


async def _envelope_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, EnvelopeError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(NotFound(f"No route {request.method} {request.url.path}.", code="unknown_url"))
    if exc.status_code == 405:
        return error_response(MethodNotAllowed(f"Method {request.method} is not allowed on {request.url.path}."))
    body = ErrorBody(ErrorDetail(str(exc.detail), "invalid_request_error"))

    return Response(msgspec.json.encode(body), status_code=exc.status_code, media_type=_JSON)


def internal_error_body() -> bytes:
    detail = ErrorDetail("Internal error in the gateway.", "server_error", None, "internal_error")
    return msgspec.json.encode(ErrorBody(detail))


async def _unexpected(request: Request, exc: Exception) -> Response:
    # The outer shell: a bug, never a client's mistake. Logged with its trace, answered in shape.
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return Response(internal_error_body(), status_code=500, media_type=_JSON)


def exception_handlers() -> Mapping[Any, Callable[[Request, Exception], Awaitable[Response]]]:
    return {EnvelopeError: _envelope_error, HTTPException: _http_error, Exception: _unexpected}
