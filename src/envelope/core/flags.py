"""Feature flags: whether a flag is on, now, for a tenant. Pure: the clock is passed in.

A flag is on when it is enabled, `now` is inside its window (`activate_at` inclusive,
`deactivate_at` exclusive; both UTC) and, if it names tenants, the request's tenant is
one of them. A flag that names tenants is off for a request with no tenant.
"""

from __future__ import annotations

from datetime import datetime

from envelope.config.documents import FlagDoc


def flag_on(flag: FlagDoc, now: datetime, tenant: str | None = None) -> bool:
    """Whether `flag` is on at `now` (timezone-aware) for `tenant`."""
    if not flag.enabled:
        return False
    if flag.activate_at is not None and now < flag.activate_at:
        return False
    if flag.deactivate_at is not None and now >= flag.deactivate_at:
        return False
    return flag.tenants is None or (tenant is not None and tenant in flag.tenants)
