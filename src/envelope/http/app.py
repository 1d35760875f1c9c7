"""The ASGI app: OpenAI-compatible routes, admin routes, metrics. Routes only.

The two proxy routes are served as plain ASGI by `proxy.py` in front of Starlette;
the rest are Starlette routes here. Errors get OpenAI's shape in `errors.py`.
`create_app()` is the factory granian calls; it reads the config path from
ENVELOPE_CONFIG.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from envelope.bootstrap import Gateway
from envelope.catalog import AUTO
from envelope.config import loader
from envelope.config.documents import ConfigSet
from envelope.http import admin, batches, dashboard
from envelope.http.errors import exception_handlers
from envelope.http.proxy import ASGIApp, ProxyRoutes
from envelope.pipeline.context import RequestContext

log = logging.getLogger("envelope.http")
JSON = "application/json"
GC_THRESHOLD = 20_000  # allocations between young-generation collections (default 700)


async def _never(request: Request) -> Response:
    raise AssertionError("ProxyRoutes serves this route")


async def list_models(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    ctx = RequestContext("models", "chat", request.headers, b"")
    await gateway.authenticate.run(ctx)
    allowed = ctx.route.models if ctx.route is not None else None
    data = [
        {"id": name, "object": "model", "created": 0, "owned_by": "envelope", "tier": m.doc.tier}
        for name, m in gateway.catalog.models.items()
        if allowed is None or name in allowed
    ]
    if ctx.route is not None and gateway.catalog.by_tier(ctx.route):
        # "auto": the route's policy chooses among its chat models
        data.insert(0, {"id": AUTO, "object": "model", "created": 0, "owned_by": "envelope", "tier": None})
    return Response(msgspec.json.encode({"object": "list", "data": data}), media_type=JSON)


async def metrics(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    return Response(gateway.metrics.render(), media_type="text/plain; version=0.0.4")


async def health(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type=JSON)


def build_app(config: ConfigSet, **gateway_options: Any) -> ASGIApp:
    gateway = Gateway(config, **gateway_options)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        app.state.gateway = gateway
        _settle_the_heap()
        try:
            yield
        finally:
            await gateway.stop()

    routes = [
        # POST /v1/chat/completions and /v1/embeddings are answered by ProxyRoutes first;
        # these entries give other methods on those paths a 405 in OpenAI's shape.
        Route("/v1/chat/completions", _never, methods=["POST"]),
        Route("/v1/embeddings", _never, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/healthz", health, methods=["GET"]),
        *admin.routes,
        *batches.routes,
        *dashboard.routes,
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=exception_handlers())
    return ProxyRoutes(app, gateway)


def _settle_the_heap() -> None:
    """Everything loaded at start (config, tokenizers, models) lives as long as the
    process: move it out of the collector's view, and collect the young generation
    less often. Requests make few reference cycles; with the default threshold (700
    allocations) the collector ran every few requests and walked the whole young heap."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 20, 20)


def create_app() -> ASGIApp:
    """Factory for granian: the config path comes from ENVELOPE_CONFIG."""
    path = os.environ.get(loader.ENV_CONFIG) or str(loader.sample_config_path())
    return build_app(loader.load(path))
