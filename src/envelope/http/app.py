"""The ASGI app: OpenAI-compatible routes, admin routes, metrics. Routes only.

Each proxy route reads the body (bounded), runs its chain, and answers; errors are
mapped to OpenAI's shape in `errors.py`. `create_app()` is the factory granian calls;
it reads the config path from ENVELOPE_CONFIG.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from envelope.bootstrap import Gateway
from envelope.config import loader
from envelope.config.documents import ConfigSet
from envelope.errors import BodyTooLarge, EnvelopeError, InvalidRequest
from envelope.http import admin, report
from envelope.http.errors import error_response, exception_handlers
from envelope.pipeline.context import Operation, RequestContext
from envelope.pipeline.relay import relay

log = logging.getLogger("envelope.http")
JSON = "application/json"
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InvalidRequest("Content-Length must be a whole number.")
        if int(declared) > limit:
            raise BodyTooLarge(f"The request body is {declared} bytes; the limit is {limit}.")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"The request body exceeds the limit of {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


async def proxy(request: Request, operation: Operation) -> Response:
    gateway: Gateway = request.app.state.gateway
    chain = gateway.chains[operation]
    ctx = RequestContext(uuid.uuid4().hex, operation, request.headers, b"")
    try:
        ctx.body = await read_body(request, gateway.config.gateway.max_body_bytes)
        await chain.run(ctx)
    except EnvelopeError as exc:
        ctx.fail(exc)
        await chain.finish(ctx)
        return error_response(exc, report.headers(ctx, final=True))
    if ctx.stream:
        return StreamingResponse(
            relay(ctx, chain.finish),
            media_type="text/event-stream",
            headers={**SSE_HEADERS, **report.headers(ctx, final=False)},
        )
    await chain.finish(ctx)
    body = ctx.answer or b""
    if report.wants_report(ctx):
        document: dict[str, Any] = msgspec.json.decode(body)
        document["envelope"] = report.facts(ctx, final=True)
        body = msgspec.json.encode(document)
    return Response(body, media_type=JSON, headers=report.headers(ctx, final=True))


async def chat_completions(request: Request) -> Response:
    return await proxy(request, "chat")


async def embeddings(request: Request) -> Response:
    return await proxy(request, "embeddings")


async def list_models(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    ctx = RequestContext(uuid.uuid4().hex, "chat", request.headers, b"")
    await gateway.authenticate.run(ctx)
    allowed = ctx.route.models if ctx.route is not None else None
    data = [
        {"id": name, "object": "model", "created": 0, "owned_by": "envelope", "tier": m.doc.tier}
        for name, m in gateway.catalog.models.items()
        if allowed is None or name in allowed
    ]
    return Response(msgspec.json.encode({"object": "list", "data": data}), media_type=JSON)


async def metrics(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    return Response(gateway.metrics.render(), media_type="text/plain; version=0.0.4")


async def health(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type=JSON)


def build_app(config: ConfigSet, **gateway_options: Any) -> Starlette:
    gateway = Gateway(config, **gateway_options)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        app.state.gateway = gateway
        try:
            yield
        finally:
            await gateway.stop()

    routes = [
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/healthz", health, methods=["GET"]),
        *admin.routes,
    ]
    return Starlette(routes=routes, lifespan=lifespan, exception_handlers=exception_handlers())


def create_app() -> Starlette:
    """Factory for granian: the config path comes from ENVELOPE_CONFIG."""
    path = os.environ.get(loader.ENV_CONFIG) or str(loader.sample_config_path())
    return build_app(loader.load(path))
