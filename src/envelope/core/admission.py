"""Admission, as pure values and arithmetic.

A request asks for everything at once — one `Ask` holding the token buckets (RPM, TPM)
it draws from, the concurrency slots it occupies, and the budget reservation it makes —
and a store grants all of it or none (`envelope.admission`). This module builds that
ask from config and request facts, and holds the arithmetic every store shares:
token-bucket refill and calendar periods. The clock is always passed in.

Semantics, per scope (key, tenant, route; the tier's capacity gate is a slot set):
- RPM and TPM are token buckets of `limit` tokens refilled at `limit` per minute; a
  request takes 1 (RPM) or its input tokens (TPM) at admission; its output tokens are
  taken after (the TPM bucket may go into debt, which delays later requests).
- Concurrency is a set of leases: a slot is held until the request ends, or until its
  deadline plus a margin (so a crashed replica never leaks slots for long).
- A budget reserves the request's worst-case cost at admission and settles it to the
  actual cost after; the reservation, too, expires with its lease. The hard limit
  refuses a request whose reservation could pass it, so concurrent requests can never
  overspend it by more than one request's (mis)estimate.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from envelope.config.documents import AdmissionDoc, BudgetDoc, LimitsDoc, Priority, RouteDoc, TenantDoc, Tier

MINUTE = 60.0
# Sums of float dollars drift (0.01 × 100 > 1.0); budget comparisons allow this much.
EPSILON_USD = 1e-9


@dataclass(frozen=True, slots=True)
class Bucket:
    """Take `cost` from the token bucket at `key` (capacity, refilled per second)."""

    key: str
    name: str
    capacity: float
    per_second: float
    cost: float


@dataclass(frozen=True, slots=True)
class Slots:
    """Hold one of `limit` slots at `key` until released or `lease_s` has passed."""

    key: str
    name: str
    limit: int
    lease_s: float
    gate: bool = False  # a tier's capacity gate: a request may wait for it


@dataclass(frozen=True, slots=True)
class Reservation:
    """Reserve `amount_usd` of the budget at `key` (reset when the period ends)."""

    key: str
    name: str
    amount_usd: float
    hard_usd: float | None
    soft_usd: float | None
    lease_s: float
    period_end: float


@dataclass(frozen=True, slots=True)
class Ask:
    request_id: str
    buckets: tuple[Bucket, ...] = ()
    slots: tuple[Slots, ...] = ()
    reservation: Reservation | None = None

    @property
    def empty(self) -> bool:
        return not (self.buckets or self.slots or self.reservation)


@dataclass(frozen=True, slots=True)
class Decision:
    admitted: bool
    denied_by: str | None = None  # the limit's name, e.g. "tenant rpm"
    retry_after_s: float = 0.0
    never: bool = False  # the request alone exceeds the limit: waiting will not help
    gate: bool = False  # denied by a capacity gate only: waiting may help
    soft_exceeded: bool = False
    spent_usd: float = 0.0
    local: bool = False  # decided by local limits while the shared store was away


@dataclass(frozen=True, slots=True)
class Settlement:
    """What a finished request gives back: its slots, its reservation settled to the
    actual cost, and the output tokens it drew from TPM buckets."""

    request_id: str
    slot_keys: tuple[str, ...] = ()
    reservation_key: str | None = None
    actual_usd: float = 0.0
    token_buckets: tuple[Bucket, ...] = field(default=())  # cost = output tokens


def refill(tokens: float, last: float, now: float, bucket: Bucket) -> float:
    """Tokens in a bucket at `now`, given `tokens` at `last`."""
    return min(bucket.capacity, tokens + max(now - last, 0.0) * bucket.per_second)


def bucket_wait(tokens: float, bucket: Bucket) -> float:
    """Seconds until the bucket holds `bucket.cost` tokens (inf if it never can)."""
    if bucket.cost > bucket.capacity:
        return math.inf
    return max(bucket.cost - tokens, 0.0) / bucket.per_second


def period_bounds(budget: BudgetDoc, now: float) -> tuple[float, float]:
    """Start and end (epoch seconds, UTC) of the budget period holding `now`."""
    if budget.period_seconds is not None:
        start = now - now % budget.period_seconds
        return start, start + budget.period_seconds
    t = datetime.fromtimestamp(now, UTC)
    if budget.period == "hourly":
        begin = t.replace(minute=0, second=0, microsecond=0)
        end = begin + timedelta(hours=1)
    elif budget.period == "daily":
        begin = t.replace(hour=0, minute=0, second=0, microsecond=0)
        end = begin + timedelta(days=1)
    elif budget.period == "weekly":
        begin = (t - timedelta(days=t.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
        end = begin + timedelta(days=7)
    else:  # monthly
        begin = t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = begin + timedelta(days=calendar.monthrange(t.year, t.month)[1])
    return begin.timestamp(), end.timestamp()


@dataclass(frozen=True, slots=True)
class Facts:
    """What admission needs to know of a request."""

    request_id: str
    tenant: TenantDoc
    route: RouteDoc
    key_id: str
    tier: Tier
    input_tokens: int
    worst_case_usd: float
    deadline_s: float  # seconds left of its latency budget


def plan(facts: Facts, settings: AdmissionDoc, now: float) -> Ask:
    """The whole ask of one request, from its facts and the config."""
    priority: Priority = facts.route.priority or facts.tenant.priority
    share = settings.priority_shares.get(priority, 1.0)
    lease = facts.deadline_s + settings.lease_margin_s
    buckets: list[Bucket] = []
    slots: list[Slots] = []
    scopes = (
        (f"key:{facts.key_id}", "key", facts.tenant.key_limits),
        (f"tenant:{facts.tenant.name}", "tenant", facts.tenant.limits),
        (f"route:{facts.route.name}", "route", facts.route.limits),
    )
    for scope, label, limits in scopes:
        buckets.extend(_buckets(scope, label, limits, facts.input_tokens))
        if limits.concurrency is not None:
            slots.append(Slots(f"conc:{scope}", f"{label} concurrency", _share(limits.concurrency, share), lease))
    capacity = settings.capacity.get(facts.tier)
    if capacity is not None:
        slots.append(
            Slots(
                f"cap:tier:{facts.tier}",
                f"tier {facts.tier} capacity",
                _share(capacity.concurrency, share),
                lease,
                True,
            )
        )
    return Ask(facts.request_id, tuple(buckets), tuple(slots), _reservation(facts, lease, now))


def settlement(ask: Ask, *, actual_usd: float, output_tokens: int) -> Settlement:
    tpm = tuple(
        Bucket(b.key, b.name, b.capacity, b.per_second, float(output_tokens))
        for b in ask.buckets
        if b.key.startswith("tpm:") and output_tokens > 0
    )
    return Settlement(
        request_id=ask.request_id,
        slot_keys=tuple(s.key for s in ask.slots),
        reservation_key=ask.reservation.key if ask.reservation else None,
        actual_usd=actual_usd,
        token_buckets=tpm,
    )


def _buckets(scope: str, label: str, limits: LimitsDoc, input_tokens: int) -> list[Bucket]:
    out = []
    if limits.rpm is not None:
        out.append(Bucket(f"rpm:{scope}", f"{label} rpm", limits.rpm, limits.rpm / MINUTE, 1.0))
    if limits.tpm is not None:
        out.append(Bucket(f"tpm:{scope}", f"{label} tpm", limits.tpm, limits.tpm / MINUTE, float(input_tokens)))
    return out


def _share(limit: int, share: float) -> int:
    return max(1, math.floor(limit * share))


def _reservation(facts: Facts, lease: float, now: float) -> Reservation | None:
    budget = facts.tenant.budget
    if budget is None:
        return None
    start, end = period_bounds(budget, now)
    return Reservation(
        key=f"budget:{facts.tenant.name}:{int(start)}",
        name="tenant budget",
        amount_usd=facts.worst_case_usd,
        hard_usd=budget.hard_usd,
        soft_usd=budget.soft_usd,
        lease_s=lease,
        period_end=end,
    )
