from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from envelope.config.documents import AdmissionDoc, BudgetDoc, LimitsDoc, RouteDoc, TenantDoc
from envelope.core.admission import Ask, Bucket, Facts, Planner, bucket_wait, period_bounds, refill, settlement


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_calendar_periods_in_utc() -> None:
    now = ts("2026-11-24T15:30:00")
    assert period_bounds(BudgetDoc(period="hourly", hard_usd=1), now) == (
        ts("2026-11-24T15:00"),
        ts("2026-11-24T16:00"),
    )
    assert period_bounds(BudgetDoc(period="daily", hard_usd=1), now) == (ts("2026-11-24T00:00"), ts("2026-11-25T00:00"))
    assert period_bounds(BudgetDoc(period="weekly", hard_usd=1), now) == (
        ts("2026-11-23T00:00"),
        ts("2026-11-30T00:00"),
    )
    assert period_bounds(BudgetDoc(period="monthly", hard_usd=1), now) == (
        ts("2026-11-01T00:00"),
        ts("2026-12-01T00:00"),
    )
    start, end = period_bounds(BudgetDoc(period_seconds=600, hard_usd=1), now)
    assert end - start == 600 and start <= now < end and start % 600 == 0


def test_bucket_arithmetic() -> None:
    b = Bucket("k", "n", capacity=10, per_second=2)
    assert refill(0, last=100, now=103, bucket=b) == 6
    assert refill(9, last=100, now=200, bucket=b) == 10  # never above capacity
    assert bucket_wait(6, b, cost=1) == 0
    assert bucket_wait(0, b, cost=4) == 2
    assert bucket_wait(10, b, cost=11) == float("inf")


def facts(tenant: TenantDoc, route: RouteDoc, request_id: str = "r1", tokens: int = 30) -> Facts:
    return Facts(request_id, tenant, route, "key_1", "M", tokens, 0.002, deadline_s=10)


def test_a_request_priority_overrides_the_tenants_and_is_planned_apart() -> None:
    tenant = TenantDoc(name="acme", priority="high", limits=LimitsDoc(concurrency=10))
    route = RouteDoc(name="r")
    planner = Planner(AdmissionDoc())
    online = planner.plan(facts(tenant, route), now=0.0)
    batch = planner.plan(dataclasses.replace(facts(tenant, route, "r2"), priority="low"), now=0.0)
    assert [s.limit for s in online.slots] == [10]
    assert [s.limit for s in batch.slots] == [5]  # a batch item may fill half the tenant's slots
    assert planner.plan(facts(tenant, route, "r3"), now=0.0).slots == online.slots


def test_planner_asks_for_what_is_configured_and_shares_by_priority() -> None:
    tenant = TenantDoc(
        name="acme",
        priority="low",
        limits=LimitsDoc(rpm=60, tpm=1000, concurrency=10),
        key_limits=LimitsDoc(rpm=6),
        budget=BudgetDoc(period="daily", hard_usd=5),
    )
    route = RouteDoc(name="r", limits=LimitsDoc(concurrency=4))
    settings = AdmissionDoc(capacity={"M": {"concurrency": 8}}, lease_margin_s=30)
    planner = Planner(settings)
    ask = planner.plan(facts(tenant, route), now=ts("2026-11-24T12:00"))
    assert [(b.key, b.per_token) for b in ask.buckets] == [
        ("rpm:key:key_1", False), ("rpm:tenant:acme", False), ("tpm:tenant:acme", True),
    ]  # fmt: skip
    assert [(s.key, s.limit, s.gate) for s in ask.slots] == [
        ("conc:tenant:acme", 5, False),
        ("conc:route:r", 2, False),
        ("cap:tier:M", 4, True),
    ]  # fmt: skip  (low priority: half of each)
    assert ask.tokens == 30 and ask.amount_usd == 0.002 and ask.lease_s == 40
    assert ask.reservation is not None and ask.reservation.key == f"budget:acme:{int(ts('2026-11-24T00:00'))}"
    again = planner.plan(facts(tenant, route, "r2", tokens=7), now=ts("2026-11-24T13:00"))
    assert again.buckets is ask.buckets and again.reservation is ask.reservation  # shared, built once
    tomorrow = planner.plan(facts(tenant, route, "r3"), now=ts("2026-11-25T00:00:01"))
    assert tomorrow.reservation is not None and tomorrow.reservation.key != ask.reservation.key  # a new period


def test_no_limits_is_an_empty_ask_and_settlement_draws_output_from_tpm() -> None:
    empty = Planner(AdmissionDoc()).plan(facts(TenantDoc(name="t"), RouteDoc(name="r")), now=0)
    assert empty.empty
    tpm = Bucket("tpm:t", "tenant tpm", 100, 1, per_token=True)
    ask = Ask("r", (Bucket("rpm:t", "tenant rpm", 10, 1), tpm), tokens=5)
    done = settlement(ask, actual_usd=0.5, output_tokens=12)
    assert done.token_buckets == (tpm,) and done.tokens == 12 and done.actual_usd == 0.5
    assert settlement(ask, actual_usd=0, output_tokens=0).token_buckets == ()
