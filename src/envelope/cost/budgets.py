"""Tenants' budget forecasts read from the ledger: the one place the CLI report
(`envelope report forecast`) and the executive dashboard get them from."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from envelope.config.documents import TenantDoc
from envelope.core.admission import period_bounds
from envelope.cost.forecast import Forecast, forecast, method_for
from envelope.ledger.rollup import Dimension
from envelope.store.ports import LedgerStore


async def tenant_forecast(store: LedgerStore, tenant: TenantDoc, now: float) -> Forecast | None:
    """Spend so far in the tenant's budget period (exact) and its recent buckets, projected
    to the period's end; None when the tenant has no budget."""
    budget = tenant.budget
    if budget is None:
        return None
    start, end = period_bounds(budget, now)
    method = method_for(end - start)
    where: dict[Dimension, str] = {"tenant": tenant.name}
    spent = sum((t.cost_usd for t in await store.rollup(since=start, until=now, where=where)), 0.0)
    buckets = await store.rollup(since=method.window_start(now), until=now, bucket_s=method.bucket_s, where=where)
    points = [(t.bucket, t.cost_usd) for t in buckets if t.bucket is not None]
    return forecast(budget, spent=spent, points=points, now=now)


async def tenant_forecasts(store: LedgerStore, tenants: Iterable[TenantDoc], now: float) -> dict[str, Forecast]:
    """Each budgeted tenant's forecast, by name (tenants without a budget are left out)."""
    chosen = list(tenants)
    found = await asyncio.gather(*(tenant_forecast(store, t, now) for t in chosen))
    return {t.name: f for t, f in zip(chosen, found, strict=True) if f is not None}
