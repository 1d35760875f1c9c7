"""Virtual API keys: generated once, shown once, stored only as a SHA-256 digest.

Keys are 256-bit random secrets, so a fast unsalted digest is safe to store: there is
nothing to brute-force. The public `id` names a key in listings, logs and the ledger.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from envelope.errors import InvalidRequest, NotFound

if TYPE_CHECKING:
    from envelope.config.documents import ConfigSet
    from envelope.store.ports import KeyStore

PREFIX = "sk-env-"
Role = Literal["admin", "tenant"]


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    tenant: str
    role: Role
    route: str | None = None
    feature: str | None = None
    name: str | None = None
    created_at: float = 0.0
    revoked_at: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def generate() -> tuple[str, str]:
    """A new (id, secret) pair; the secret is returned to the caller once and never stored."""
    return "key_" + secrets.token_hex(6), PREFIX + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


async def issue(
    store: KeyStore,
    config: ConfigSet,
    *,
    tenant: str,
    role: Role = "tenant",
    route: str | None = None,
    feature: str | None = None,
    name: str | None = None,
) -> tuple[KeyRecord, str]:
    """Create a key for a configured tenant (and route, if bound); return it with its secret."""
    if tenant not in {t.name for t in config.tenants}:
        raise NotFound(f"Tenant {tenant!r} is not in the config.", param="tenant", code="tenant_not_found")
    if route is not None and route not in {r.name for r in config.routes}:
        raise NotFound(f"Route {route!r} is not in the config.", param="route", code="route_not_found")
    if role not in ("admin", "tenant"):
        raise InvalidRequest(f"Role must be admin or tenant, got {role!r}.", param="role")
    key_id, secret = generate()
    record = KeyRecord(
        id=key_id, tenant=tenant, role=role, route=route, feature=feature, name=name, created_at=time.time()
    )
    await store.add(record, digest(secret))
    return record, secret
