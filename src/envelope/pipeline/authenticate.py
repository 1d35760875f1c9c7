"""Authenticate: the bearer key names the tenant; route and feature come from
headers, else the key's defaults, else the tenant's."""

from __future__ import annotations

import time

from envelope.catalog import Catalog
from envelope.errors import AuthenticationFailed, InvalidRequest, PermissionDenied
from envelope.keys import KeyRecord, digest
from envelope.pipeline.context import RequestContext
from envelope.store.ports import KeyStore

MAX_TAG_LENGTH = 128


class KeyCache:
    """Key lookups cached for `ttl` seconds (unknown keys too, in a bounded map), so a
    revocation made by another process takes effect within `ttl`."""

    MAX_ENTRIES = 100_000

    def __init__(self, store: KeyStore, ttl: float) -> None:
        self._store = store
        self._ttl = ttl
        self._entries: dict[str, tuple[KeyRecord | None, float]] = {}

    async def lookup(self, secret: str) -> KeyRecord | None:
        key_digest = digest(secret)
        now = time.monotonic()
        hit = self._entries.get(key_digest)
        if hit is not None and hit[1] > now:
            return hit[0]
        record = await self._store.find(key_digest)
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        self._entries[key_digest] = (record, now + self._ttl)
        return record

    def forget(self) -> None:
        """Drop every cached entry (after a revocation in this process)."""
        self._entries.clear()


class Authenticate:
    name = "authenticate"

    def __init__(self, catalog: Catalog, keys: KeyCache) -> None:
        self._catalog = catalog
        self._keys = keys

    async def run(self, ctx: RequestContext) -> None:
        # A key already set was authenticated by its caller (the batch worker, for the
        # key that created the batch); everything else comes with a bearer key.
        key = ctx.key if ctx.key is not None else await self.key_of(ctx)
        tenant = self._catalog.tenants.get(key.tenant)
        if tenant is None:
            raise PermissionDenied(f"The key's tenant {key.tenant!r} is not configured.", code="tenant_not_configured")
        ctx.key = key
        ctx.tenant = key.tenant
        asked = _tag(ctx, "x-envelope-route")
        if asked is not None and key.route is not None and asked != key.route:
            raise PermissionDenied(f"This key is bound to route {key.route!r}.", code="route_not_allowed")
        ctx.route_name = asked or key.route or tenant.default_route
        ctx.route = self._catalog.route(ctx.route_name)
        ctx.feature = _tag(ctx, "x-envelope-feature") or key.feature or tenant.default_feature

    async def key_of(self, ctx: RequestContext) -> KeyRecord:
        header = ctx.headers.get("authorization")
        if not header:
            raise AuthenticationFailed("Missing API key: send it as 'Authorization: Bearer <key>'.")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise AuthenticationFailed("Malformed Authorization header: expected 'Bearer <key>'.")
        key = await self._keys.lookup(secret.strip())
        if key is None:
            raise AuthenticationFailed("Incorrect API key provided.")
        if not key.active:
            raise AuthenticationFailed("This API key has been revoked.", code="revoked_api_key")
        return key


def _tag(ctx: RequestContext, header: str) -> str | None:
    value = ctx.headers.get(header)
    if value is None:
        return None
    if not value or len(value) > MAX_TAG_LENGTH or not value.isprintable():
        raise InvalidRequest(f"Header {header} must be 1-{MAX_TAG_LENGTH} printable characters.", param=header)
    return value
