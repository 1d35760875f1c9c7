"""One contract, every store adapter: in-memory, SQLite (a file) and PostgreSQL (a fresh schema)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import msgspec
import pytest

from envelope.keys import KeyRecord, digest
from envelope.ledger.record import LedgerRecord
from envelope.store.memory import MemoryStore
from envelope.store.ports import Conflict, Rejected, Store
from envelope.store.sql import SQLStore
from tests.store.databases import SQL_KINDS, empty_database


@asynccontextmanager
async def opened(kind: str, tmp_path: Path) -> AsyncIterator[SQLStore]:
    async with empty_database(kind, tmp_path) as db:
        adapter = db.store()
        await adapter.open()
        try:
            yield adapter
        finally:
            await adapter.close()


@pytest.fixture(params=["memory", *SQL_KINDS])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    async with opened(request.param, tmp_path) as adapter:
        yield adapter


@pytest.fixture(params=SQL_KINDS)
async def sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SQLStore]:
    async with opened(request.param, tmp_path) as adapter:
        yield adapter


def record(
    request_id: str,
    *,
    tenant: str = "acme",
    route: str = "r",
    feature: str | None = None,
    model: str = "m",
    cost: float = 0.001,
    status: int = 200,
    ts: float | None = None,
) -> LedgerRecord:
    return LedgerRecord(
        request_id=request_id, ts=ts if ts is not None else time.time(), tenant=tenant, key_id="key_1", route=route,
        feature=feature, operation="chat", model=model, deployment="d", tier="S", mode="balanced", stream=False,
        status=status, error_code=None if status < 400 else "upstream_failed", input_tokens=10, output_tokens=5,
        cached_tokens=0, tokens_exact=True, cost_usd=cost, worst_case_usd=cost * 2, latency_ms=12.5, ttft_ms=None,
        upstream_ms=10.0, cache="miss", degradations="",
    )  # fmt: skip


async def test_keys_are_found_by_digest_and_revoked(store: Store) -> None:
    key = KeyRecord(id="key_a", tenant="acme", role="tenant", route="r", created_at=1.0)
    await store.add(key, digest("secret-a"))
    await store.add(KeyRecord(id="key_b", tenant="beta", role="admin", created_at=2.0), digest("secret-b"))
    assert await store.find(digest("secret-a")) == key
    assert await store.find(digest("nope")) is None
    assert [k.id for k in await store.list_keys()] == ["key_a", "key_b"]
    assert [k.id for k in await store.list_keys("beta")] == ["key_b"]
    assert await store.revoke("key_a", 5.0) is True
    assert await store.revoke("key_a", 6.0) is False  # already revoked
    assert await store.revoke("key_zzz", 6.0) is False
    found = await store.find(digest("secret-a"))
    assert found is not None and found.revoked_at == 5.0 and not found.active


async def test_a_digest_cannot_be_added_twice(store: Store) -> None:
    await store.add(KeyRecord(id="key_a", tenant="acme", role="tenant"), digest("s"))
    with pytest.raises(Conflict):
        await store.add(KeyRecord(id="key_b", tenant="acme", role="tenant"), digest("s"))


async def test_ledger_append_count_and_summaries(store: Store) -> None:
    await store.append(
        [record("1", cost=0.002), record("2", tenant="beta", cost=0.001), record("3", status=502, cost=0.0)]
    )
    await store.append([])
    assert await store.count() == 3
    by_tenant = await store.rollup(["tenant"])
    assert [(line.group, line.requests, line.errors) for line in by_tenant] == [(("acme",), 2, 1), (("beta",), 1, 0)]
    assert by_tenant[0].cost_usd == pytest.approx(0.002)
    assert by_tenant[0].input_tokens == 20 and by_tenant[0].output_tokens == 10
    by_feature = await store.rollup(["feature"])
    assert [line.group for line in by_feature] == [(None,)]


async def test_summaries_respect_since(store: Store) -> None:
    now = time.time()
    await store.append([record("old", ts=now - 7200), record("new", ts=now)])
    lines = await store.rollup(["model"], since=now - 60)
    assert [(line.group, line.requests) for line in lines] == [(("m",), 1)]


async def test_a_batch_with_a_duplicate_id_is_rejected_whole(store: Store) -> None:
    await store.append([record("dup")])
    with pytest.raises(Conflict):
        await store.append([record("fresh"), record("dup")])
    assert await store.count() == 1


async def test_append_ignoring_duplicates_writes_only_new_ids(store: Store) -> None:
    await store.append([record("a", cost=0.5)])
    await store.append_ignoring_duplicates([record("a", cost=9.0), record("b"), record("c"), record("b")])
    await store.append_ignoring_duplicates([])
    assert await store.count() == 3
    (line,) = await store.rollup(["tenant"])
    assert line.cost_usd == pytest.approx(0.5 + 0.001 + 0.001)  # "a" kept its first row


async def test_values_the_database_cannot_hold_are_rejected_not_retried(sql_store: SQLStore) -> None:
    missing = msgspec.structs.replace(record("m"), tenant=None)
    for append in (sql_store.append, sql_store.append_ignoring_duplicates):
        with pytest.raises(Rejected) as caught:
            await append([record("ok"), missing])
        assert not isinstance(caught.value, Conflict)
    assert await sql_store.count() == 0  # all or nothing


async def test_postgresql_rejects_a_value_too_long(tmp_path: Path) -> None:
    async with empty_database("postgresql", tmp_path) as db:
        store = db.store()
        await store.open()
        try:
            with pytest.raises(Rejected):
                await store.append([msgspec.structs.replace(record("long"), degradations="x" * 600)])
            await store.append([record("short")])  # the connection is still good
            assert await store.count() == 1
        finally:
            await store.close()
