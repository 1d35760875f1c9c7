"""The control plane's records over every store adapter (memory, SQLite, PostgreSQL):
transitions, shadow results and sampled payloads written and read back, filtered and in order."""

from __future__ import annotations

import dataclasses

from envelope.store.ports import Store
from envelope.store.records import PayloadSample, ShadowRecord, TransitionRecord
from tests.store.test_contract import sql_store, store  # noqa: F401 (fixtures)


def transition(ts: float, scope: str, direction: str = "down") -> TransitionRecord:
    return TransitionRecord(
        ts=ts,
        scope=scope,
        kind="latency",
        direction=direction,
        from_level=0 if direction == "down" else 1,
        to_level=1 if direction == "down" else 0,
        reason="p95 300 ms > target 150 ms for 30 s",
        p95_ms=300.0,
        target_ms=150.0,
        downgraded_s=None if direction == "down" else 42.5,
    )


def shadow(request_id: str, ts: float, route: str = "chat") -> ShadowRecord:
    return ShadowRecord(
        request_id=request_id,
        ts=ts,
        tenant="acme",
        route=route,
        primary_model="m",
        shadow_model="candidate",
        status="ok",
        primary_ms=120.0,
        shadow_ms=340.5,
        primary_cost_usd=0.0001,
        shadow_cost_usd=0.0003,
        primary_output_tokens=12,
        shadow_output_tokens=30,
        primary_text="Paris.",
        shadow_text="The capital of France is Paris.",
    )


def sample(request_id: str, ts: float, route: str = "chat") -> PayloadSample:
    return PayloadSample(
        request_id=request_id,
        ts=ts,
        tenant="acme",
        route=route,
        feature=None,
        config_version=3,
        request='{"messages":[{"role":"user","content":"Write to <EMAIL_ADDRESS>"}],"max_tokens":32}',
        answer="Done.",
        status=200,
        model="m",
        tier="S",
        latency_ms=210.0,
        ttft_ms=None,
        cost_usd=0.00002,
        cache="miss",
    )


async def test_transitions_round_trip_filtered_by_time_and_scope(store: Store) -> None:  # noqa: F811
    await store.add_transition(transition(10.0, "route:chat"))
    await store.add_transition(transition(20.0, "tenant:acme"))
    await store.add_transition(transition(30.0, "route:chat", "up"))
    await store.add_transition(transition(40.0, "route:chat_2"))
    assert [t.ts for t in await store.transitions()] == [10.0, 20.0, 30.0, 40.0]
    assert await store.transitions(since=15.0, scope="route:chat") == [
        transition(30.0, "route:chat", "up"),
        transition(40.0, "route:chat_2"),
    ]
    assert [t.scope for t in await store.transitions(scope="tenant:")] == ["tenant:acme"]
    assert await store.transitions(scope="route:chat%") == []  # a prefix, not a pattern


async def test_shadow_results_round_trip(store: Store) -> None:  # noqa: F811
    await store.add_shadow(shadow("b", 20.0))
    await store.add_shadow(shadow("a", 10.0))
    await store.add_shadow(shadow("c", 30.0, route="other"))
    assert [s.request_id for s in await store.shadows()] == ["a", "b", "c"]
    assert await store.shadows(route="chat", since=15.0) == [shadow("b", 20.0)]


async def test_samples_are_kept_once_and_listed_oldest_first(store: Store) -> None:  # noqa: F811
    await store.add_samples([sample("a", 10.0), sample("b", 20.0)])
    await store.add_samples([sample("b", 20.0), sample("c", 30.0, route="other")])  # b again: skipped
    await store.add_samples([])
    assert [s.request_id for s in await store.list_samples()] == ["a", "b", "c"]
    assert await store.list_samples(route="chat", since=15.0) == [sample("b", 20.0)]
    assert [s.request_id for s in await store.list_samples(limit=2)] == ["b", "c"]  # the most recent two
    first = (await store.list_samples(limit=1))[0]
    assert dataclasses.asdict(first) == dataclasses.asdict(sample("c", 30.0, route="other"))
