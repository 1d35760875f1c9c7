"""No request is ever unaccounted: a gateway killed with SIGKILL mid-load, or a
PostgreSQL ledger that goes away mid-load, loses no ledger row and duplicates none."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import openai
import pytest

from envelope.bench.cpu import tree_pids
from tests.support.postgres import SERVER, admin, fresh_database, sqlalchemy_url
from tests.support.processes import FakeUpstream, Gateway, read_ledger, start_gateway


def config(upstream: FakeUpstream, **gateway: Any) -> dict[str, Any]:
    return {
        "gateway": gateway,
        "models": [
            {
                "name": "m",
                "tokenizer": {"type": "tiktoken"},
                "deployments": [
                    {"name": "d", "provider": {"type": "openai", "base_url": upstream.url(), "model": "x"}}
                ],
            }
        ],
        "routes": [{"name": "default", "max_output_tokens": 4}],
        "tenants": [{"name": "acme"}],
    }


def send(gw: Gateway, n: int) -> list[str]:
    c = openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0)
    ids = []
    for _ in range(n):
        raw = c.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": "x"}])
        ids.append(raw.headers["x-envelope-request-id"])
    return ids


def test_sigkill_mid_load_loses_no_row(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    # a flush far off: every row is still in the gateway's memory when it is killed
    doc = config(fake_upstream, ledger={"batch_size": 100_000, "flush_interval_ms": 3_600_000})
    gw = start_gateway(tmp_path, doc)
    ids = send(gw, 30)
    for pid in reversed(tree_pids(gw.proc.pid)):
        os.kill(pid, signal.SIGKILL)
    gw.proc.wait()
    assert read_ledger(gw.db) == []  # nothing had reached the store
    restarted = start_gateway(tmp_path, config(fake_upstream))  # same directory: same store, same spool
    try:
        rows = restarted.ledger(wait_for=30, timeout=10)
        assert sorted(r["request_id"] for r in rows) == sorted(ids)
    finally:
        restarted.stop()
    assert not list((tmp_path / ".envelope-spool").glob("ledger-*.jsonl"))  # replayed and cleaned up


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_database("envelope_durable") as name:
        yield name


async def _rows(database: str) -> list[str]:
    conn = await asyncpg.connect(f"{SERVER}/{database}")
    try:
        return [r["request_id"] for r in await conn.fetch("SELECT request_id FROM ledger")]
    finally:
        await conn.close()


def test_postgres_away_mid_load_loses_no_row(fake_upstream: FakeUpstream, database: str, tmp_path: Path) -> None:
    url = sqlalchemy_url(database)
    doc = config(
        fake_upstream,
        database_url=url,
        ledger={"batch_size": 20, "flush_interval_ms": 50, "write_timeout_s": 2, "retry_interval_s": 0.2},
    )
    gw = start_gateway(tmp_path, doc)
    sent: list[str] = []
    try:
        load = threading.Thread(target=lambda: sent.extend(send(gw, 300)))
        load.start()
        time.sleep(0.5)
        # the store goes away mid-load: no new connections, every open one killed
        asyncio.run(
            admin(
                f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false',
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'",
            )
        )
        time.sleep(1.5)
        asyncio.run(admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true'))
        load.join(60)
        assert len(sent) == 300  # serving never depended on the ledger store
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and len(asyncio.run(_rows(database))) < 300:
            time.sleep(0.2)
    finally:
        gw.stop()
    stored = asyncio.run(_rows(database))
    assert sorted(stored) == sorted(sent)  # every row, once
    assert "spooling rows" in gw.log.read_text()  # it really went through the spool
