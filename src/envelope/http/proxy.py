"""The hot routes (`POST /v1/chat/completions`, `POST /v1/embeddings`) as plain ASGI.

Every proxied request pays for the framework it passes through; Starlette's
middleware stack, Request and Response objects cost about a tenth of the gateway's
CPU per request here. These two routes therefore skip it: `ProxyRoutes` answers them
directly over ASGI and hands every other request (and the lifespan) to the Starlette
app. Errors still get OpenAI's shape from `errors.py`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import msgspec
from starlette.datastructures import Headers

from envelope.bootstrap import Gateway
from envelope.errors import BodyTooLarge, EnvelopeError, InvalidRequest
from envelope.http import report
from envelope.http.errors import internal_error_body
from envelope.pipeline.context import Operation, RequestContext
from envelope.pipeline.relay import relay

log = logging.getLogger("envelope.http")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_JSON = [(b"content-type", b"application/json")]
_SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]
_ROUTES: dict[str, Operation] = {"/v1/chat/completions": "chat", "/v1/embeddings": "embeddings"}


class RequestIds:
    """Unique request ids without uuid4's cost: a random per-process prefix and a counter."""

    def __init__(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._counter):08x}"


class ProxyRoutes:
    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self._app = app
        self._gateway = gateway
        self._ids = RequestIds()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        operation = _ROUTES.get(scope.get("path", "")) if scope["type"] == "http" else None
        if operation is None or scope["method"] != "POST":
            await self._app(scope, receive, send)
            return
        try:
            await self._proxy(operation, scope, receive, send)
        except Exception:  # the outer shell: a bug, answered in shape if nothing was sent yet
            log.exception("unhandled error on %s", scope.get("path"))
            await _answer(send, 500, internal_error_body(), [])

    async def _proxy(self, operation: Operation, scope: Scope, receive: Receive, send: Send) -> None:
        gateway = self._gateway
        serving = gateway.serving  # the whole request runs on the config active now
        chain = serving.chains[operation]
        headers = Headers(scope=scope)
        ctx = RequestContext(self._ids(), operation, headers, b"")
        ctx.config_version = serving.version
        try:
            ctx.body = await _read_body(headers, receive, gateway.config.gateway.max_body_bytes)
            await chain.run(ctx)
        except EnvelopeError as exc:
            ctx.fail(exc)
            await chain.finish(ctx)
            await _answer(
                send, exc.status, exc.encode(), _encode_headers(report.headers(ctx, final=True) | exc.headers)
            )
            return
        if ctx.stream:
            sse_headers = _SSE + _encode_headers(report.headers(ctx, final=False))
            await _stream(send, receive, relay(ctx, chain.finish), sse_headers)
            return
        await chain.finish(ctx)
        body = ctx.answer or b""
        if report.wants_report(ctx):
            document: dict[str, Any] = msgspec.json.decode(body)
            document["envelope"] = report.facts(ctx, final=True)
            body = msgspec.json.encode(document)
        await _answer(send, 200, body, _JSON + _encode_headers(report.headers(ctx, final=True)))


async def _read_body(headers: Headers, receive: Receive, limit: int) -> bytes:
    declared = headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InvalidRequest("Content-Length must be a whole number.")
        if int(declared) > limit:
            raise BodyTooLarge(f"The request body is {declared} bytes; the limit is {limit}.")
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise InvalidRequest("The client went away while sending the body.", code="client_disconnected")
        chunk: bytes = message.get("body", b"")
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(f"The request body exceeds the limit of {limit} bytes.")
        if not message.get("more_body", False):
            return body


def _encode_headers(values: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1", "replace")) for k, v in values.items()]


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    if not any(k == b"content-type" for k, _ in headers):
        headers = _JSON + headers
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _stream(
    send: Send, receive: Receive, chunks: AsyncIterator[bytes], headers: list[tuple[bytes, bytes]]
) -> None:
    """Relay SSE chunks as they come. The server does not fail `send` when the client has
    gone, so a watcher listens for the disconnect; at the next chunk the relay is closed,
    which releases the upstream connection and records the request as abandoned (499)."""
    gone = asyncio.ensure_future(_disconnect(receive))
    try:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        async for chunk in chunks:
            if gone.done():
                log.debug("client went away mid-stream")
                return
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    except OSError:
        log.debug("client went away mid-stream")
    finally:
        gone.cancel()
        await chunks.aclose()  # type: ignore[attr-defined]


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
