"""Two Envelope replicas (separate processes) sharing Redis and PostgreSQL: a burst of
200 concurrent requests through both. Global limits and the tenant budget hold exactly
as configured — not limit × replicas — and the shared ledger has exactly one row per
request. Needs Redis on 127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from tests.support.postgres import SERVER, fresh_database, sqlalchemy_url
from tests.support.processes import FakeUpstream, Gateway, start_gateway


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_database("envelope_replicas") as name:
        yield name


def config(upstream: FakeUpstream, database: str, *, tenant: dict[str, Any], mode: str = "") -> dict[str, Any]:
    return {
        "gateway": {
            "database_url": sqlalchemy_url(database),
            "ledger": {"batch_size": 50, "flush_interval_ms": 50},
            "admission": {
                "store_url": "redis://127.0.0.1:6379/0",
                "key_prefix": f"test:{uuid.uuid4().hex}:",
                "priority_shares": {"normal": 1.0},
                "timeout_s": 2.0,
            },
        },
        "models": [
            {
                "name": "m",
                "tokenizer": {"type": "tiktoken"},
                "prices": {"input_per_1m": 100.0, "output_per_1m": 200.0},
                "deployments": [
                    {"name": "d", "provider": {"type": "openai", "base_url": upstream.url(mode), "model": "x"}}
                ],
            }
        ],
        "routes": [{"name": "default", "max_output_tokens": 8}],
        "tenants": [{"name": "acme", **tenant}],
    }


@pytest.fixture
def replicas() -> Iterator[list[Gateway]]:
    """Gateways a test starts; stopped (ledger flushed) when it ends."""
    started: list[Gateway] = []
    yield started
    for gw in started:
        gw.stop()


def start_two(tmp_path: Path, document: dict[str, Any], started: list[Gateway]) -> tuple[Gateway, Gateway]:
    import copy

    first = start_gateway(tmp_path / "a", copy.deepcopy(document))
    started.append(first)
    second = start_gateway(tmp_path / "b", copy.deepcopy(document))
    started.append(second)
    return first, second


async def burst(gateways: tuple[Gateway, Gateway], n: int = 200) -> list[int]:
    body = {"model": "m", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 8}
    headers = {"authorization": f"Bearer {gateways[0].key}"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one(i: int) -> int:
            gw = gateways[i % 2]
            async with session.post(f"{gw.base_url}/chat/completions", json=body, headers=headers) as resp:
                await resp.read()
                return resp.status

        return list(await asyncio.gather(*[one(i) for i in range(n)]))


async def ledger(database: str, expected: int) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(f"{SERVER}/{database}")
    try:
        deadline = time.monotonic() + 10
        while True:
            rows = await conn.fetch("SELECT request_id, status, cost_usd, worst_case_usd FROM ledger")
            if len(rows) >= expected or time.monotonic() > deadline:
                return list(rows)
            await asyncio.sleep(0.1)
    finally:
        await conn.close()


def test_rpm_holds_across_replicas(
    fake_upstream: FakeUpstream, database: str, tmp_path: Path, replicas: list[Gateway]
) -> None:
    pair = start_two(tmp_path, config(fake_upstream, database, tenant={"limits": {"rpm": 50}}), replicas)
    started = time.monotonic()
    statuses = asyncio.run(burst(pair))
    elapsed = time.monotonic() - started
    admitted = statuses.count(200)
    assert statuses.count(429) == 200 - admitted
    # a token bucket of 50, refilled at 50 a minute while the burst lasted; never 2 × 50
    assert 50 <= admitted <= 50 + int(elapsed * 50 / 60) + 1
    rows = asyncio.run(ledger(database, 200))
    assert len(rows) == 200 and len({r["request_id"] for r in rows}) == 200
    assert sum(r["status"] == 200 for r in rows) == admitted


def test_concurrency_holds_across_replicas(
    fake_upstream: FakeUpstream, database: str, tmp_path: Path, replicas: list[Gateway]
) -> None:
    tenant = {"limits": {"concurrency": 10}}
    pair = start_two(tmp_path, config(fake_upstream, database, tenant=tenant, mode="delay-3000"), replicas)
    statuses = asyncio.run(burst(pair))
    assert statuses.count(200) == 10  # all 200 arrive while the first 10 hold their slots
    assert statuses.count(429) == 190
    assert len(asyncio.run(ledger(database, 200))) == 200


def test_budget_holds_across_replicas(
    fake_upstream: FakeUpstream, database: str, tmp_path: Path, replicas: list[Gateway]
) -> None:
    # a request reserves ≈ (≈8 input + 8 output tokens) at $100/$200 per 1M ≈ $0.0024
    tenant = {"budget": {"period": "daily", "hard_usd": 0.05}}
    pair = start_two(tmp_path, config(fake_upstream, database, tenant=tenant), replicas)
    statuses = asyncio.run(burst(pair))
    rows = asyncio.run(ledger(database, 200))
    assert len(rows) == 200
    admitted = [r for r in rows if r["status"] == 200]
    assert len(admitted) == statuses.count(200) > 0
    spent = sum(r["cost_usd"] for r in rows)
    assert spent <= 0.05 + max(r["worst_case_usd"] for r in admitted)
    assert statuses.count(429) > 100  # far more asked than the budget allows
