"""One contract, both admission stores: in-memory and Redis (127.0.0.1:6379, required)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from envelope.admission.memory import MemoryAdmission
from envelope.admission.ports import AdmissionStore
from envelope.admission.redis import RedisAdmission
from envelope.core.admission import Ask, Bucket, Reservation, Settlement, Slots

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[AdmissionStore]:
    if request.param == "memory":
        yield MemoryAdmission()
        return
    prefix = f"test:{uuid.uuid4().hex}:"
    adapter = RedisAdmission(REDIS_URL, timeout_s=2.0, prefix=prefix)
    yield adapter
    await adapter.close()
    client = aioredis.Redis.from_url(REDIS_URL)
    keys = [k async for k in client.scan_iter(f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def ids() -> str:
    return uuid.uuid4().hex


def rpm(limit: int, key: str = "rpm:tenant:a") -> Bucket:
    return Bucket(key, "tenant rpm", limit, limit / 60, 1.0)


def budget(amount: float, hard: float | None = 1.0, soft: float | None = None, lease: float = 60.0) -> Reservation:
    return Reservation("budget:a:0", "tenant budget", amount, hard, soft, lease, time.time() + 3600)


async def test_bucket_admits_its_capacity_then_names_the_limit(store: AdmissionStore) -> None:
    decisions = [await store.admit(Ask(ids(), (rpm(5),)), time.time()) for _ in range(6)]
    assert [d.admitted for d in decisions] == [True] * 5 + [False]
    assert decisions[-1].denied_by == "tenant rpm"
    assert 11 < decisions[-1].retry_after_s <= 12.01  # one token at 5 a minute


async def test_bucket_refills_over_time(store: AdmissionStore) -> None:
    fast = Bucket("rpm:fast", "fast", 2, 20.0, 1.0)
    assert all([(await store.admit(Ask(ids(), (fast,)), time.time())).admitted for _ in range(2)])
    assert not (await store.admit(Ask(ids(), (fast,)), time.time())).admitted
    await asyncio.sleep(0.12)
    assert (await store.admit(Ask(ids(), (fast,)), time.time())).admitted


async def test_a_request_larger_than_the_bucket_can_never_pass(store: AdmissionStore) -> None:
    huge = Bucket("tpm:t", "tenant tpm", 100, 100 / 60, 500)
    decision = await store.admit(Ask(ids(), (huge,)), time.time())
    assert not decision.admitted and decision.never


async def test_all_or_nothing(store: AdmissionStore) -> None:
    gate = Slots("cap:tier:S", "tier S capacity", 1, 60, gate=True)
    assert (await store.admit(Ask(ids(), (), (gate,)), time.time())).admitted
    denied = await store.admit(Ask(ids(), (rpm(3),), (gate,)), time.time())
    assert not denied.admitted and denied.denied_by == "tier S capacity" and denied.gate
    # the denied ask took no rpm token: all three are still there
    assert all([(await store.admit(Ask(ids(), (rpm(3),)), time.time())).admitted for _ in range(3)])


async def test_slots_are_released_on_settle_and_lapse_with_their_lease(store: AdmissionStore) -> None:
    conc = Slots("conc:tenant:a", "tenant concurrency", 2, 60)
    first, second = ids(), ids()
    assert (await store.admit(Ask(first, (), (conc,)), time.time())).admitted
    assert (await store.admit(Ask(second, (), (conc,)), time.time())).admitted
    assert not (await store.admit(Ask(ids(), (), (conc,)), time.time())).admitted
    await store.settle(Settlement(first, slot_keys=(conc.key,)), time.time())
    assert (await store.admit(Ask(ids(), (), (conc,)), time.time())).admitted
    short = Slots("conc:short", "short", 1, 0.15)
    assert (await store.admit(Ask(ids(), (), (short,)), time.time())).admitted
    assert not (await store.admit(Ask(ids(), (), (short,)), time.time())).admitted
    await asyncio.sleep(0.25)  # a crashed holder's lease lapses
    assert (await store.admit(Ask(ids(), (), (short,)), time.time())).admitted


async def test_budget_reserves_worst_case_and_settles_to_actual(store: AdmissionStore) -> None:
    a, b = ids(), ids()
    assert (await store.admit(Ask(a, reservation=budget(0.4)), time.time())).admitted
    assert (await store.admit(Ask(b, reservation=budget(0.4)), time.time())).admitted
    denied = await store.admit(Ask(ids(), reservation=budget(0.4)), time.time())
    assert not denied.admitted and denied.denied_by == "tenant budget" and not denied.never
    assert denied.retry_after_s > 3000  # until the period ends
    await store.settle(Settlement(a, reservation_key="budget:a:0", actual_usd=0.1), time.time())
    assert await store.spent("budget:a:0", time.time()) == pytest.approx((0.1, 0.4))
    assert (await store.admit(Ask(ids(), reservation=budget(0.4)), time.time())).admitted  # 0.1 + 0.4 + 0.4


async def test_soft_limit_admits_with_a_flag_and_never_for_oversized(store: AdmissionStore) -> None:
    soft = await store.admit(Ask(ids(), reservation=budget(0.6, hard=None, soft=0.5)), time.time())
    assert soft.admitted and soft.soft_exceeded
    oversized = await store.admit(Ask(ids(), reservation=budget(2.0, hard=1.0)), time.time())
    assert not oversized.admitted and oversized.never


async def test_a_lapsed_reservation_is_returned(store: AdmissionStore) -> None:
    assert (await store.admit(Ask(ids(), reservation=budget(0.9, lease=0.15)), time.time())).admitted
    assert not (await store.admit(Ask(ids(), reservation=budget(0.9)), time.time())).admitted
    await asyncio.sleep(0.25)
    assert (await store.admit(Ask(ids(), reservation=budget(0.9)), time.time())).admitted


async def test_output_tokens_are_drawn_after_the_fact(store: AdmissionStore) -> None:
    tpm = Bucket("tpm:t", "tenant tpm", 100, 100 / 60, 10)
    first = ids()
    assert (await store.admit(Ask(first, (tpm,)), time.time())).admitted
    drawn = Bucket(tpm.key, tpm.name, tpm.capacity, tpm.per_second, 80)
    await store.settle(Settlement(first, token_buckets=(drawn,)), time.time())
    big = Bucket(tpm.key, tpm.name, tpm.capacity, tpm.per_second, 20)
    assert not (await store.admit(Ask(ids(), (big,)), time.time())).admitted  # ≈10 left


async def test_concurrent_asks_never_exceed_a_limit(store: AdmissionStore) -> None:
    conc = Slots("conc:race", "race", 50, 60)
    results = await asyncio.gather(*[store.admit(Ask(ids(), (), (conc,)), time.time()) for _ in range(200)])
    assert sum(d.admitted for d in results) == 50
    spend = [store.admit(Ask(ids(), reservation=budget(0.01, hard=1.0)), time.time()) for _ in range(200)]
    results = await asyncio.gather(*spend)
    assert sum(d.admitted for d in results) == 100
