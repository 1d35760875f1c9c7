"""The registry over a store: propose, apply, activate, rollback, history, flags."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from envelope.config.documents import GatewayDoc
from envelope.registry.registry import (
    AlreadyActive,
    InvalidVersion,
    NoSuchVersion,
    NothingToRollBack,
    Registry,
    default_actor,
)
from envelope.store.memory import MemoryStore
from envelope.store.ports import Store
from tests.registry.samples import config, with_p95
from tests.store.databases import SQL_KINDS, empty_database
from tests.store.test_contract import opened


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    async with opened(request.param, tmp_path) as adapter:
        yield adapter


def registry_on(store: Store, **kwargs: GatewayDoc) -> Registry:
    clock = itertools.count(1000.0, 10.0)
    return Registry(store, clock=lambda: next(clock), **kwargs)


async def test_applying_the_same_config_twice_stores_one_version(store: Store) -> None:
    registry = registry_on(store)
    first = await registry.apply(with_p95(800), "ann", "first")
    assert first is not None and (first.from_version, first.to_version, first.action) == (None, 1, "apply")
    assert await registry.apply(with_p95(800), "bob", "again") is None
    assert [v.number for v in await registry.versions()] == [1]
    assert len(await registry.history()) == 1
    assert (await registry.active_version(), (await registry.get(1)).message) == (1, "first")


async def test_apply_records_who_what_and_statuses(store: Store) -> None:
    registry = registry_on(store)
    await registry.apply(with_p95(800), "ann", "first")
    entry = await registry.apply(with_p95(600), "bob", "faster", reason="SLO review")
    assert entry is not None
    assert (entry.from_version, entry.to_version, entry.actor, entry.reason) == (1, 2, "bob", "SLO review")
    assert entry.summary == "routes: ~default(latency.p95_ms)"
    assert [(v.number, v.status) for v in await registry.versions()] == [(2, "active"), (1, "retired")]
    assert await registry.history() == [entry, (await registry.history())[1]]
    assert [line for line in await registry.diff(with_p95(600))] == []
    assert len(await registry.diff(with_p95(800))) == 1


async def test_reapplying_an_old_config_reuses_its_version(store: Store) -> None:
    registry = registry_on(store)
    await registry.apply(with_p95(800), "ann")
    await registry.apply(with_p95(600), "ann")
    entry = await registry.apply(with_p95(800), "ann")
    assert entry is not None and (entry.from_version, entry.to_version) == (2, 1)
    assert len(await registry.versions()) == 2


async def test_propose_stores_without_activating(store: Store) -> None:
    registry = registry_on(store)
    version = await registry.propose(with_p95(800), "ann", "draft")
    assert version.status == "new" and await registry.active_version() is None
    assert (await registry.propose(with_p95(800), "bob")).number == version.number
    entry = await registry.activate(version.number, "carl")
    assert entry.to_version == version.number
    with pytest.raises(AlreadyActive):
        await registry.activate(version.number, "carl")
    with pytest.raises(NoSuchVersion):
        await registry.activate(77, "carl")


async def test_rollback_defaults_to_the_last_known_good_skipping_bad_ones(store: Store) -> None:
    registry = registry_on(store)
    for ms in (800, 700, 600):
        await registry.apply(with_p95(ms), "ann")
    await registry.mark_bad(2, "doubled the error rate")
    entry = await registry.rollback(actor="pager", reason="p95 breach")
    assert (entry.action, entry.from_version, entry.to_version, entry.reason) == ("rollback", 3, 1, "p95 breach")
    assert entry.summary == "routes: ~default(latency.p95_ms)"
    left = await registry.get(3)
    assert (left.status, left.bad_reason) == ("bad", "p95 breach")
    assert (await registry.active_version(), (await registry.get(1)).status) == (1, "active")
    with pytest.raises(NothingToRollBack):
        await registry.rollback(actor="pager")  # 2 and 3 are bad: nothing good before 1
    assert await registry.active_version() == 1


async def test_last_known_good_is_the_most_recently_active_not_the_highest(store: Store) -> None:
    registry = registry_on(store)
    for ms in (800, 700, 600):
        await registry.apply(with_p95(ms), "ann")  # versions 1, 2, 3
    await registry.rollback(1, "ann")  # explicit: 3 marked bad
    await registry.apply(with_p95(500), "ann")  # version 4
    entry = await registry.rollback(actor="ann")
    assert (entry.from_version, entry.to_version) == (4, 1)  # 1 was active last, not 2
    assert (await registry.get(4)).bad_reason == "rolled back to version 1"


async def test_rollback_refusals(store: Store) -> None:
    registry = registry_on(store)
    with pytest.raises(NothingToRollBack):
        await registry.rollback(actor="ann")
    await registry.apply(with_p95(800), "ann")
    with pytest.raises(NothingToRollBack):
        await registry.rollback(actor="ann")
    with pytest.raises(NoSuchVersion):
        await registry.rollback(9, "ann")
    with pytest.raises(AlreadyActive):
        await registry.rollback(1, "ann")
    with pytest.raises(NoSuchVersion):
        await registry.mark_bad(9, "x")
    assert len(await registry.history()) == 1


async def test_a_version_that_fails_validation_is_never_activated(store: Store) -> None:
    registry = registry_on(store)  # the default gateway knows volatility "static"
    await registry.apply(with_p95(800), "ann")
    static = await registry.propose(config(routes=[{"name": "default", "cache": {"volatility": "static"}}]), "ann")
    strict = registry_on(store, gateway=GatewayDoc.model_validate({"cache": {"ttl_s": {"standard": 60}}}))
    with pytest.raises(InvalidVersion) as caught:
        await strict.activate(static.number, "ann")
    assert caught.value.number == static.number and "volatility" in str(caught.value)
    garbage, _ = await store.add_version(
        "0" * 64, '{"routes": [{"name": "x", "bogus": 1}]}', actor="a", message="", at=1
    )
    with pytest.raises(InvalidVersion) as caught:
        await registry.activate(garbage.number, "ann")
    assert any("bogus: unknown field" in p for p in caught.value.problems)
    with pytest.raises(InvalidVersion):
        await registry.rollback(garbage.number, "ann")
    assert await store.active_version() == 1 and len(await store.audit_log()) == 1  # the running version stays
    assert (await registry.activate(static.number, "ann")).to_version == static.number  # valid with its gateway


async def test_start_activates_the_file_only_when_nothing_is(store: Store) -> None:
    registry = registry_on(store)
    assert await registry.start(with_p95(800), "gateway@host") == 1
    (entry,) = await registry.history()
    assert (entry.action, entry.to_version, entry.actor) == ("start", 1, "gateway@host")
    assert await registry.start(with_p95(500), "gateway@host") == 1  # the registry wins over the file
    assert len(await registry.versions()) == 1


async def test_config_gives_a_version_back_as_a_config_set(store: Store) -> None:
    registry = registry_on(store)
    await registry.apply(with_p95(650), "ann")
    cfg = await registry.config(1)
    assert cfg.routes[0].latency.p95_ms == 650 and [m.name for m in cfg.models] == ["small", "big"]


async def test_flag_activation_times_come_from_the_audit_and_activate_at(store: Store) -> None:
    registry = registry_on(store)  # clock: 1000, 1010, 1020, … (one tick per stored version and activation)
    off = config(flags=[{"name": "dark-launch", "enabled": False}])
    on = config(
        flags=[{"name": "dark-launch", "enabled": True}, {"name": "later", "activate_at": "2100-01-01T00:00:00"}]
    )
    on_too = config(flags=[{"name": "dark-launch"}, {"name": "later", "activate_at": "2100-01-01"}, {"name": "x"}])
    await registry.apply(off, "ann")
    turned_on = await registry.apply(on, "ann")
    await registry.apply(on_too, "ann")  # still on: the time it was turned on stays
    assert turned_on is not None
    states = {s.flag.name: s for s in await registry.flags(datetime(2050, 1, 1, tzinfo=UTC))}
    assert states["dark-launch"].state == "on"
    assert states["dark-launch"].on_since == datetime.fromtimestamp(turned_on.ts, UTC)
    assert (states["later"].state, states["later"].on_since) == ("scheduled", datetime(2100, 1, 1, tzinfo=UTC))
    history = await registry.history()
    assert history[1].summary == 'flag dark-launch turned on; flag later added (on, activate_at "2100-01-01T00:00:00Z")'


def test_default_actor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVELOPE_ACTOR", "ci-bot")
    assert default_actor() == "ci-bot"
    monkeypatch.delenv("ENVELOPE_ACTOR")
    assert "@" in default_actor()


@pytest.mark.parametrize("kind", SQL_KINDS)
async def test_concurrent_activations_leave_a_consistent_pointer_and_audit(kind: str, tmp_path: Path) -> None:
    """Two CLIs (separate stores, separate connections) activate different versions at once:
    both land, one after the other; the audit chain and the pointer agree."""
    async with empty_database(kind, tmp_path) as db:
        stores = [db.store() for _ in range(2)]
        await asyncio.gather(*(s.open() for s in stores))
        try:
            first, second = (Registry(s) for s in stores)
            one = (await first.propose(with_p95(800), "ann")).number
            two = (await first.propose(with_p95(600), "bob")).number
            entries = await asyncio.gather(first.activate(one, "ann"), second.activate(two, "bob"))
            log = await first.history()
            assert len(log) == 2 and sorted(e.id for e in log) == sorted(e.id for e in entries)
            newer, older = log
            assert older.from_version is None and newer.from_version == older.to_version
            assert {older.to_version, newer.to_version} == {one, two}
            assert await second.active_version() == newer.to_version
            statuses = {v.number: v.status for v in await second.versions()}
            assert statuses == {newer.to_version: "active", older.to_version: "retired"}
            assert newer.summary == "routes: ~default(latency.p95_ms)"  # diffed against what it replaced
        finally:
            await asyncio.gather(*(s.close() for s in stores))
