"""The dashboards: a single-page web UI and the JSON it draws, for admin keys only.

GET /dashboard                           the page (HTML shell; it holds no data: it asks for an admin key)
GET /dashboard/{asset}                   its script and style files (`dashboard/` beside this module)
GET /admin/dashboard/executive           health per route, spend vs budget per tenant, traffic and spend
GET /admin/dashboard/operations          error rate, latency percentiles, limit utilisation, alerts, downgrades
GET /admin/dashboard/debugging           per-stage latency, tokens, cache hit rates, per model
    ?window=15m|1h|6h|24h|7d             (default 1h) the JSON views' time window

The page sends the admin key as a Bearer header on its JSON calls; the views are built
in `envelope.dashboard`. No asset is fetched from anywhere else (the CSP says so).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from envelope.bootstrap import Gateway
from envelope.dashboard import inputs
from envelope.dashboard.window import Window, window_named
from envelope.errors import NotFound
from envelope.http.admin import require_admin
from envelope.http.responses import json_response

ASSETS: dict[str, str] = {
    "index.html": "text/html; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    **{
        name: "text/javascript; charset=utf-8"
        for name in ("app.js", "charts.js", "widgets.js", "executive.js", "operations.js", "debugging.js")
    },
}
_HEADERS = {
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
}
View = Callable[[Gateway, Window, float], Awaitable[object]]
VIEWS: dict[str, View] = {
    "executive": inputs.executive_view,
    "operations": inputs.operations_view,
    "debugging": inputs.debugging_view,
}


async def view(request: Request) -> Response:
    gateway = await require_admin(request)
    build = VIEWS.get(request.path_params["view"])
    if build is None:
        raise NotFound(f"No dashboard {request.path_params['view']!r}; use one of {', '.join(VIEWS)}.")
    window = window_named(request.query_params.get("window"))
    found = await build(gateway, window, time.time())
    return json_response(found, headers={"cache-control": "no-store"})


def _asset(name: str) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise NotFound(f"No dashboard file {name!r}.", code="unknown_url")
    body = resources.files("envelope.http").joinpath("dashboard", name).read_bytes()
    return Response(body, media_type=media_type, headers=_HEADERS)


async def page(request: Request) -> Response:
    return _asset("index.html")


async def asset(request: Request) -> Response:
    return _asset(request.path_params["name"])


routes = [
    Route("/dashboard", page, methods=["GET"]),
    Route("/dashboard/", page, methods=["GET"]),
    Route("/dashboard/{name}", asset, methods=["GET"]),
    Route("/admin/dashboard/{view}", view, methods=["GET"]),
]
