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
    return Bucket(key, "tenant rpm", limit, limit / 60)


BUDGET = Reservation("budget:a:0", "tenant budget", 1.0, None, time.time() + 3600)


def spend(amount: float, *, hard: float | None = 1.0, soft: float | None = None, lease: float = 60.0) -> Ask:
    reservation = Reservation(BUDGET.key, BUDGET.name, hard, soft, BUDGET.period_end)
    return Ask(ids(), reservation=reservation, amount_usd=amount, lease_s=lease)


async def test_bucket_admits_its_capacity_then_names_the_limit(store: AdmissionStore) -> None:
    decisions = [await store.admit(Ask(ids(), (rpm(5),)), time.time()) for _ in range(6)]
    assert [d.admitted for d in decisions] == [True] * 5 + [False]
    assert decisions[-1].denied_by == "tenant rpm"
    assert 11 < decisions[-1].retry_after_s <= 12.01  # one token at 5 a minute


async def test_bucket_refills_over_time(store: AdmissionStore) -> None:
    fast = Bucket("rpm:fast", "fast", 2, 20.0)
    assert all([(await store.admit(Ask(ids(), (fast,)), time.time())).admitted for _ in range(2)])
    assert not (await store.admit(Ask(ids(), (fast,)), time.time())).admitted
    await asyncio.sleep(0.12)
    assert (await store.admit(Ask(ids(), (fast,)), time.time())).admitted


async def test_a_request_larger_than_the_bucket_can_never_pass(store: AdmissionStore) -> None:
    tpm = Bucket("tpm:t", "tenant tpm", 100, 100 / 60, per_token=True)
    decision = await store.admit(Ask(ids(), (tpm,), tokens=500), time.time())
    assert not decision.admitted and decision.never


async def test_all_or_nothing(store: AdmissionStore) -> None:
    gate = Slots("cap:tier:S", "tier S capacity", 1, gate=True)
    assert (await store.admit(Ask(ids(), (), (gate,)), time.time())).admitted
    denied = await store.admit(Ask(ids(), (rpm(3),), (gate,)), time.time())
    assert not denied.admitted and denied.denied_by == "tier S capacity" and denied.gate
    # the denied ask took no rpm token: all three are still there
    assert all([(await store.admit(Ask(ids(), (rpm(3),)), time.time())).admitted for _ in range(3)])


async def test_slots_are_released_on_settle_and_lapse_with_their_lease(store: AdmissionStore) -> None:
    conc = Slots("conc:tenant:a", "tenant concurrency", 2)
    first, second = ids(), ids()
    assert (await store.admit(Ask(first, (), (conc,)), time.time())).admitted
    assert (await store.admit(Ask(second, (), (conc,)), time.time())).admitted
    assert not (await store.admit(Ask(ids(), (), (conc,)), time.time())).admitted
    await store.settle(Settlement(first, slot_keys=(conc.key,)), time.time())
    assert (await store.admit(Ask(ids(), (), (conc,)), time.time())).admitted
    short = Slots("conc:short", "short", 1)
    assert (await store.admit(Ask(ids(), (), (short,), lease_s=0.15), time.time())).admitted
    assert not (await store.admit(Ask(ids(), (), (short,)), time.time())).admitted
    await asyncio.sleep(0.25)  # a crashed holder's lease lapses
    assert (await store.admit(Ask(ids(), (), (short,)), time.time())).admitted


async def test_budget_reserves_worst_case_and_settles_to_actual(store: AdmissionStore) -> None:
    first = spend(0.4)
    assert (await store.admit(first, time.time())).admitted
    assert (await store.admit(spend(0.4), time.time())).admitted
    denied = await store.admit(spend(0.4), time.time())
    assert not denied.admitted and denied.denied_by == "tenant budget" and not denied.never
    assert denied.retry_after_s > 3000  # until the period ends
    await store.settle(Settlement(first.request_id, reservation_key=BUDGET.key, actual_usd=0.1), time.time())
    assert await store.spent(BUDGET.key, time.time()) == pytest.approx((0.1, 0.4))
    assert (await store.admit(spend(0.4), time.time())).admitted  # 0.1 + 0.4 + 0.4


async def test_soft_limit_admits_with_a_flag_and_never_for_oversized(store: AdmissionStore) -> None:
    soft = await store.admit(spend(0.6, hard=None, soft=0.5), time.time())
    assert soft.admitted and soft.soft_exceeded
    oversized = await store.admit(spend(2.0, hard=1.0), time.time())
    assert not oversized.admitted and oversized.never


async def test_a_lapsed_reservation_is_returned(store: AdmissionStore) -> None:
    assert (await store.admit(spend(0.9, lease=0.15), time.time())).admitted
    assert not (await store.admit(spend(0.9), time.time())).admitted
    await asyncio.sleep(0.25)
    assert (await store.admit(spend(0.9), time.time())).admitted


async def test_output_tokens_are_drawn_after_the_fact(store: AdmissionStore) -> None:
    tpm = Bucket("tpm:t", "tenant tpm", 100, 100 / 60, per_token=True)
    first = Ask(ids(), (tpm,), tokens=10)
    assert (await store.admit(first, time.time())).admitted
    await store.settle(Settlement(first.request_id, token_buckets=(tpm,), tokens=80), time.time())
    assert not (await store.admit(Ask(ids(), (tpm,), tokens=20), time.time())).admitted  # ≈10 left


async def test_concurrent_asks_never_exceed_a_limit(store: AdmissionStore) -> None:
    conc = Slots("conc:race", "race", 50)
    results = await asyncio.gather(*[store.admit(Ask(ids(), (), (conc,)), time.time()) for _ in range(200)])
    assert sum(d.admitted for d in results) == 50
    results = await asyncio.gather(*[store.admit(spend(0.01, hard=1.0), time.time()) for _ in range(200)])
    assert sum(d.admitted for d in results) == 100
