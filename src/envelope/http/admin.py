"""Admin API: key management and cache events, for admin keys only.

GET    /admin/keys[?tenant=T]       list keys (never their secrets)
POST   /admin/keys                  {"tenant", "route"?, "feature"?, "role"?, "name"?} → the secret, once
DELETE /admin/keys/{id}             revoke
POST   /admin/cache/purge           {"tenant"?, "route"?} → {"purged": N}: drop cached answers (all, or a
                                    tenant's, a route's, or a tenant's on a route) and their indexed questions
POST   /admin/cache/events          {"event"} → {"routes": [...], "purged": N}: an event happened (a knowledge
                                    base re-ingested, a catalogue changed); routes naming it in
                                    cache.invalidate_on drop their answers
GET    /admin/slo                   the SLO engine's last evaluation: per route rolling p50/p95/p99, TTFT p95,
                                    error rate, objectives (good share, budget left, burn rates); spend;
                                    firing alerts; adaptive control levels, tenants in economy, experiments
GET    /admin/control/transitions   [?since=EPOCH&scope=PREFIX] downgrades, recoveries, economy, canary rollbacks
"""

from __future__ import annotations

import dataclasses
import time

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from envelope import keys
from envelope.bootstrap import Gateway
from envelope.errors import InvalidRequest, NotFound, PermissionDenied
from envelope.http.responses import json_response
from envelope.keys import KeyRecord
from envelope.pipeline.context import RequestContext
from envelope.wire import convert, decode_object


class KeyRequest(msgspec.Struct, forbid_unknown_fields=True):
    tenant: str
    role: keys.Role = "tenant"
    route: str | None = None
    feature: str | None = None
    name: str | None = None


async def require_admin(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    ctx = RequestContext("admin", "chat", request.headers, b"")
    key = await gateway.authenticate.key_of(ctx)
    if key.role != "admin":
        raise PermissionDenied("This endpoint needs an admin key.", code="admin_required")
    return gateway


def _public(record: KeyRecord) -> dict[str, object]:
    return dataclasses.asdict(record) | {"active": record.active}


async def list_keys(request: Request) -> Response:
    gateway = await require_admin(request)
    assert gateway.store is not None
    records = await gateway.store.list_keys(request.query_params.get("tenant"))
    return json_response({"object": "list", "data": [_public(r) for r in records]})


async def create_key(request: Request) -> Response:
    gateway = await require_admin(request)
    assert gateway.store is not None
    ask: KeyRequest = convert(decode_object(await request.body()), KeyRequest)
    record, secret = await keys.issue(
        gateway.store,
        gateway.config,
        tenant=ask.tenant,
        role=ask.role,
        route=ask.route,
        feature=ask.feature,
        name=ask.name,
    )
    return json_response(_public(record) | {"key": secret}, status=201)


async def revoke_key(request: Request) -> Response:
    gateway = await require_admin(request)
    assert gateway.store is not None
    key_id = request.path_params["key_id"]
    if not await gateway.store.revoke(key_id, time.time()):
        raise NotFound(f"No active key {key_id!r}.", code="key_not_found")
    gateway.keys.forget()
    return json_response({"id": key_id, "revoked": True})


class PurgeRequest(msgspec.Struct, forbid_unknown_fields=True):
    tenant: str | None = None
    route: str | None = None


class CacheEvent(msgspec.Struct, forbid_unknown_fields=True):
    event: str


async def purge_cache(request: Request) -> Response:
    gateway = await require_admin(request)
    body = await request.body()
    ask = convert(decode_object(body), PurgeRequest) if body.strip() else PurgeRequest()
    if ask.tenant is not None and ask.tenant not in gateway.catalog.tenants:
        raise NotFound(f"The tenant {ask.tenant!r} does not exist.", param="tenant", code="tenant_not_found")
    if ask.route is not None and ask.route not in gateway.catalog.routes:
        raise NotFound(f"The route {ask.route!r} does not exist.", param="route", code="route_not_found")
    purged = await gateway.cache.purge(ask.tenant, ask.route)
    return json_response({"purged": purged, "tenant": ask.tenant, "route": ask.route})


async def cache_event(request: Request) -> Response:
    gateway = await require_admin(request)
    ask = convert(decode_object(await request.body()), CacheEvent)
    if not ask.event.strip():
        raise InvalidRequest("The event needs a name.", param="event")
    routes, purged = await gateway.cache.invalidate(ask.event)
    return json_response({"event": ask.event, "routes": routes, "purged": purged})


async def slo(request: Request) -> Response:
    gateway = await require_admin(request)
    loop = gateway.slo
    report = loop.last_report if loop is not None else None
    body: dict[str, object] = {
        "config_version": gateway.serving.version,
        "evaluated_at": report.at if report else None,
        "routes": [dataclasses.asdict(r) for r in report.routes] if report else [],
        "spend": [dataclasses.asdict(s) for s in report.spend] if report else [],
        "alerts": [dataclasses.asdict(a) for a in loop.alerting.firing()] if loop is not None else [],
        "control": {
            "levels": gateway.control.levels(gateway.catalog.routes),
            "economy": sorted(gateway.control.economy(gateway.catalog.tenants)),
            "rolled_back": {
                name: why for name in gateway.catalog.routes if (why := gateway.experiments.rolled_back(name))
            },
        },
    }
    return json_response(body)


async def transitions(request: Request) -> Response:
    gateway = await require_admin(request)
    assert gateway.store is not None
    since = request.query_params.get("since")
    try:
        after = float(since) if since is not None else None
    except ValueError:
        raise InvalidRequest("since must be a number of seconds since the epoch.", param="since") from None
    found = await gateway.store.transitions(after, request.query_params.get("scope"))
    return json_response({"object": "list", "data": [dataclasses.asdict(t) for t in found]})


routes = [
    Route("/admin/keys", list_keys, methods=["GET"]),
    Route("/admin/keys", create_key, methods=["POST"]),
    Route("/admin/keys/{key_id}", revoke_key, methods=["DELETE"]),
    Route("/admin/cache/purge", purge_cache, methods=["POST"]),
    Route("/admin/cache/events", cache_event, methods=["POST"]),
    Route("/admin/slo", slo, methods=["GET"]),
    Route("/admin/control/transitions", transitions, methods=["GET"]),
]
