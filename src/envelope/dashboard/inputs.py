"""The imperative shell of the dashboards: read what each view needs from a running
gateway (ledger rollups, budget periods, the SLO engine's report and alerts, control
transitions and levels, the rejection counter) and hand it to the pure builders."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from envelope.bootstrap import Gateway
from envelope.cost.budgets import tenant_forecasts
from envelope.dashboard import debugging, executive, limits, operations
from envelope.dashboard.window import Window
from envelope.ledger.rollup import by_group
from envelope.slo.alerts import Alert
from envelope.store.ports import Store


def _store(gateway: Gateway) -> Store:
    assert gateway.store is not None, "the gateway has started"
    return gateway.store


def _alerts(gateway: Gateway) -> list[Alert]:
    return gateway.slo.alerting.firing() if gateway.slo is not None else []


async def executive_view(gateway: Gateway, window: Window, now: float) -> executive.Executive:
    store, since = _store(gateway), window.since(now)
    buckets, per_route, per_tenant, forecast_of = await asyncio.gather(
        store.rollup((), since=since, bucket_s=window.bucket_s),
        store.rollup(["route"], since=since),
        store.rollup(["tenant"], since=since),
        tenant_forecasts(store, gateway.catalog.tenants.values(), now),
    )
    return executive.executive(
        window=window,
        now=now,
        routes=list(gateway.catalog.routes.values()),
        tenants=list(gateway.catalog.tenants.values()),
        buckets=buckets,
        per_route=per_route,
        per_tenant=per_tenant,
        forecasts=forecast_of,
        report=gateway.slo.last_report if gateway.slo is not None else None,
        alerts=_alerts(gateway),
        levels=gateway.control.levels(gateway.catalog.routes),
        economy=gateway.control.economy(gateway.catalog.tenants),
    )


def _rejection_samples(gateway: Gateway) -> Iterator[tuple[dict[str, str], float]]:
    for family in gateway.metrics.rejections.collect():
        for sample in family.samples:
            if sample.name.endswith("_total"):
                yield sample.labels, sample.value


async def operations_view(gateway: Gateway, window: Window, now: float) -> operations.Operations:
    store, since = _store(gateway), window.since(now)
    catalog = gateway.catalog
    buckets, minutes, last_minute, transitions = await asyncio.gather(
        store.rollup((), since=since, bucket_s=window.bucket_s),
        store.rollup(limits.GROUPING, since=since, bucket_s=limits.MINUTE_S),
        store.rollup(limits.GROUPING, since=now - limits.MINUTE_S),
        store.transitions(since),
    )
    used = limits.utilisation(
        tenants=list(catalog.tenants.values()),
        routes=list(catalog.routes.values()),
        capacity=catalog.config.gateway.admission.capacity,
        minutes=minutes,
        last_minute=last_minute,
    )
    return operations.operations(
        window=window,
        now=now,
        routes=list(catalog.routes.values()),
        buckets=buckets,
        per_route=list(by_group(minutes, limits.GROUPING.index("route")).values()),  # the same rows, summed
        utilisation=used,
        rejections=limits.rejections(_rejection_samples(gateway)),
        alerts=_alerts(gateway),
        transitions=transitions,
        levels=gateway.control.levels(gateway.catalog.routes),
        economy=gateway.control.economy(gateway.catalog.tenants),
    )


async def debugging_view(gateway: Gateway, window: Window, now: float) -> debugging.Debugging:
    store, since = _store(gateway), window.since(now)
    lines, buckets = await asyncio.gather(
        store.rollup(debugging.GROUPING, since=since),
        store.rollup(["cache"], since=since, bucket_s=window.bucket_s),
    )
    return debugging.debugging(window=window, now=now, lines=lines, buckets=buckets)
