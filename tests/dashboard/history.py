"""An hour of past traffic, written into the gateway's store (through the store API)
before it starts, so the dashboards' time series have something to draw besides the
burst of live traffic: about 10 requests a minute for the 55 minutes before it, a
latency spike that made adaptive control downgrade the default route 40 minutes ago
and recover 32 minutes ago (its two transitions are written too), cache hits, a few
errors. Deterministic (a seeded generator); costs follow the test config's prices."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from envelope.ledger.record import LedgerRecord
from envelope.store.records import TransitionRecord
from envelope.store.sql import SQLStore

PRICES = {"medium": (30.0, 90.0), "small": (5.0, 15.0)}  # USD per 1M input, output tokens
MINUTES = 55
DOWN_AGO, UP_AGO = 40 * 60, 32 * 60


def _row(rng: random.Random, ts: float, tenant: str, route: str, *, down: bool, spike: bool) -> LedgerRecord:
    hit = route == "default" and rng.random() < 0.3
    model = "auto" if hit else "small" if down else "medium"
    failed = not hit and rng.random() < 0.04
    inputs, outputs = rng.randint(8, 40), 0 if failed else rng.randint(3, 30)
    cached = inputs // 2 if not hit and rng.random() < 0.2 else 0
    upstream = (
        None if hit else (rng.uniform(250, 480) if spike else rng.uniform(25, 60) if down else rng.uniform(60, 140))
    )
    price_in, price_out = PRICES.get(model, (0.0, 0.0))
    guard = rng.uniform(0.3, 1.5) if route == "default" else None
    return LedgerRecord(
        request_id=f"seed-{ts:.6f}",
        ts=ts,
        tenant=tenant,
        key_id="seeded",
        route=route,
        feature=None,
        operation="chat",
        model=model,
        deployment=None if hit else f"{model}-0",
        tier=None if hit else "S" if down else "M",
        mode="balanced",
        stream=False,
        status=502 if failed else 200,
        error_code="upstream_failed" if failed else None,
        input_tokens=inputs,
        output_tokens=outputs,
        cached_tokens=cached,
        tokens_exact=True,
        cost_usd=0.0 if hit else ((inputs - cached) * price_in + outputs * price_out) / 1e6,
        worst_case_usd=0.0,
        latency_ms=rng.uniform(1, 5) if hit else (upstream or 0.0) + (guard or 0.0) + rng.uniform(0.5, 2.0),
        ttft_ms=None,
        upstream_ms=upstream,
        cache="exact" if hit else "miss" if route == "default" else "off",
        degradations="slo_downgrade:M->S" if down else "",
        guard_ms=guard,
    )


def ledger(now: float) -> list[LedgerRecord]:
    rng = random.Random(7)
    rows = []
    for minute in range(MINUTES, 2, -1):
        start = now - minute * 60
        beta = 0
        for _ in range(rng.randint(6, 14)):
            ts = start + rng.uniform(0, 60)
            tenant = "beta" if beta < 2 and rng.random() < 0.15 else "acme"
            beta += tenant == "beta"
            route = "search" if rng.random() < 0.25 else "default"
            down = route == "default" and now - DOWN_AGO <= ts < now - UP_AGO
            spike = route == "default" and now - DOWN_AGO - 150 <= ts < now - DOWN_AGO
            rows.append(_row(rng, ts, tenant, route, down=down, spike=spike))
    return sorted(rows, key=lambda r: r.ts)


def transitions(now: float) -> list[TransitionRecord]:
    down = TransitionRecord(
        ts=now - DOWN_AGO, scope="route:default", kind="latency", direction="down", from_level=0, to_level=1,
        reason="p95 412 ms > target 150 ms for 30 s", p95_ms=412.0, target_ms=150.0, downgraded_s=None,
    )  # fmt: skip
    up = TransitionRecord(
        ts=now - UP_AGO, scope="route:default", kind="latency", direction="up", from_level=1, to_level=0,
        reason="probes p95 96 ms < 80% of target for 60 s", p95_ms=96.0, target_ms=150.0,
        downgraded_s=DOWN_AGO - UP_AGO,
    )  # fmt: skip
    return [down, up]


def seed(db: Path, now: float) -> int:
    """Write the history into the SQLite store at `db` (created if new); the rows written."""

    async def write() -> int:
        store = SQLStore(f"sqlite+aiosqlite:///{db}")
        await store.open()
        try:
            rows = ledger(now)
            await store.append(rows)
            for record in transitions(now):
                await store.add_transition(record)
            return len(rows)
        finally:
            await store.close()

    return asyncio.run(write())
