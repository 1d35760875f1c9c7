"""The RegistryStore contract, over every adapter: in-memory, SQLite (a file), PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from envelope.store.memory import MemoryStore
from envelope.store.ports import StaleActive, Store, UnknownVersion
from tests.store.databases import SQL_KINDS, Database, empty_database
from tests.store.test_contract import opened


@pytest.fixture(params=["memory", *SQL_KINDS])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    async with opened(request.param, tmp_path) as adapter:
        yield adapter


@pytest.fixture(params=SQL_KINDS)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with empty_database(request.param, tmp_path) as db:
        yield db


async def add(store: Store, digest: str, at: float = 1.0) -> int:
    version, created = await store.add_version(digest, f'{{"d":"{digest}"}}', actor="ann", message="m", at=at)
    assert created
    return version.number


async def test_versions_are_numbered_in_order_and_found(store: Store) -> None:
    assert await store.active_version() is None
    assert await store.list_versions() == []
    assert await store.get_version(1) is None
    first, created = await store.add_version("a" * 64, '{"x":1}', actor="ann", message="first", at=10.0)
    assert created and first.number == 1 and first.status == "new" and first.bad_reason is None
    assert (await add(store, "b" * 64), await add(store, "c" * 64)) == (2, 3)
    assert await store.get_version(1) == first
    assert [v.number for v in await store.list_versions()] == [3, 2, 1]
    assert [v.number for v in await store.list_versions(limit=2)] == [3, 2]
    assert first.documents == '{"x":1}' and first.actor == "ann" and first.message == "first"
    assert first.created_at == 10.0


async def test_the_same_digest_is_stored_once(store: Store) -> None:
    first, _ = await store.add_version("d" * 64, "{}", actor="ann", message="one", at=1.0)
    again, created = await store.add_version("d" * 64, "{}", actor="bob", message="two", at=2.0)
    assert not created and again == first
    assert len(await store.list_versions()) == 1


async def test_activation_moves_the_pointer_marks_statuses_and_writes_the_audit(store: Store) -> None:
    one, two = await add(store, "1" * 64), await add(store, "2" * 64)
    entry = await store.activate(one, expected=None, actor="ann", action="apply", summary="s1", reason=None, at=5.0)
    assert (entry.from_version, entry.to_version, entry.action, entry.actor, entry.ts) == (
        None,
        one,
        "apply",
        "ann",
        5.0,
    )
    assert await store.active_version() == one
    second = await store.activate(two, expected=one, actor="bob", action="apply", summary="s2", reason="r", at=6.0)
    assert second.id > entry.id and (second.from_version, second.to_version, second.reason) == (one, two, "r")
    assert await store.active_version() == two
    statuses = {v.number: v.status for v in await store.list_versions()}
    assert statuses == {one: "retired", two: "active"}
    assert await store.audit_log() == [second, entry]
    assert await store.audit_log(limit=1) == [second]


async def test_a_stale_expectation_changes_nothing(store: Store) -> None:
    one, two = await add(store, "1" * 64), await add(store, "2" * 64)
    await store.activate(one, expected=None, actor="a", action="apply", summary="", reason=None, at=1.0)
    with pytest.raises(StaleActive):
        await store.activate(two, expected=None, actor="a", action="apply", summary="", reason=None, at=2.0)
    with pytest.raises(UnknownVersion):
        await store.activate(99, expected=one, actor="a", action="apply", summary="", reason=None, at=2.0)
    assert await store.active_version() == one
    assert len(await store.audit_log()) == 1
    assert (await store.get_version(two)).status == "new"  # type: ignore[union-attr]


async def test_rolling_back_marks_the_version_left_bad(store: Store) -> None:
    one, two = await add(store, "1" * 64), await add(store, "2" * 64)
    await store.activate(one, expected=None, actor="a", action="apply", summary="", reason=None, at=1.0)
    await store.activate(two, expected=one, actor="a", action="apply", summary="", reason=None, at=2.0)
    await store.activate(
        one, expected=two, actor="a", action="rollback", summary="", reason="slow", at=3.0, bad_reason="slow"
    )
    left = await store.get_version(two)
    assert left is not None and (left.status, left.bad_reason) == ("bad", "slow")
    # a bad version stays bad when replaced again, and activating it clears the mark
    await store.activate(two, expected=one, actor="a", action="apply", summary="", reason=None, at=4.0)
    again = await store.get_version(two)
    assert again is not None and (again.status, again.bad_reason) == ("active", None)


async def test_mark_bad(store: Store) -> None:
    one = await add(store, "1" * 64)
    assert await store.mark_bad(one, "broke the p95") is True
    assert await store.mark_bad(42, "nope") is False
    version = await store.get_version(one)
    assert version is not None and (version.status, version.bad_reason) == ("bad", "broke the p95")
    three = await add(store, "3" * 64)
    await store.activate(three, expected=None, actor="a", action="apply", summary="", reason=None, at=1.0)
    await store.mark_bad(three, "later")
    await store.activate(one, expected=three, actor="a", action="rollback", summary="", reason=None, at=2.0)
    kept = await store.get_version(three)
    assert kept is not None and (kept.status, kept.bad_reason) == ("bad", "later")  # not turned into retired


async def test_concurrent_activations_from_separate_processes_take_turns(database: Database) -> None:
    """Two stores (two connection pools, like two CLIs or replicas) activate at once, both
    believing nothing is active: exactly one wins, the other is told, and nothing is half done."""
    stores = [database.store() for _ in range(2)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        one, two = await add(stores[0], "1" * 64), await add(stores[0], "2" * 64)
        results = await asyncio.gather(
            *(
                s.activate(n, expected=None, actor=f"a{n}", action="apply", summary="", reason=None, at=float(n))
                for s, n in zip(stores, (one, two), strict=True)
            ),
            return_exceptions=True,
        )
        losses = [r for r in results if isinstance(r, BaseException)]
        assert len(losses) == 1 and isinstance(losses[0], StaleActive), results
        (entry,) = await stores[1].audit_log()
        assert await stores[0].active_version() == entry.to_version
        statuses = {v.number: v.status for v in await stores[1].list_versions()}
        assert statuses[entry.to_version] == "active" and list(statuses.values()).count("active") == 1
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_concurrent_proposals_get_distinct_dense_numbers(database: Database) -> None:
    stores = [database.store() for _ in range(4)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        numbers = await asyncio.gather(
            *(add(s, f"{i:064d}") for i, s in enumerate(stores)),
            *(add(s, f"{i + 10:064d}") for i, s in enumerate(stores)),
        )
        assert sorted(numbers) == list(range(1, 9))
        same = await asyncio.gather(*(s.add_version("f" * 64, "{}", actor="a", message="", at=1.0) for s in stores))
        assert len({v.number for v, _ in same}) == 1 and sum(created for _, created in same) == 1
    finally:
        await asyncio.gather(*(s.close() for s in stores))
