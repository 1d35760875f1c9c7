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

from envelope.config.documents import AdmissionDoc, BudgetDoc, Priority, RouteDoc, TenantDoc, Tier

MINUTE = 60.0
# Sums of float dollars drift (0.01 × 100 > 1.0); budget comparisons allow this much.
EPSILON_USD = 1e-9


@dataclass(frozen=True, slots=True)
class Bucket:
    """A token bucket at `key` (capacity, refilled per second). A request takes one token
    from it, or — `per_token` (TPM) — as many as the ask's `tokens`."""

    key: str
    name: str
    capacity: float
    per_second: float
    per_token: bool = False


@dataclass(frozen=True, slots=True)
class Slots:
    """One of `limit` slots at `key`, held until released or the ask's lease runs out."""

    key: str
    name: str
    limit: int
    gate: bool = False  # a tier's capacity gate: a request may wait for it


@dataclass(frozen=True, slots=True)
class Reservation:
    """The budget at `key`, for the period ending at `period_end`."""

    key: str
    name: str
    hard_usd: float | None
    soft_usd: float | None
    period_end: float


@dataclass(frozen=True, slots=True)
class Ask:
    """Everything one request takes. The buckets, slots and reservation are shared
    values (cached per tenant, route, key and tier); what varies per request is here."""

    request_id: str
    buckets: tuple[Bucket, ...] = ()
    slots: tuple[Slots, ...] = ()
    reservation: Reservation | None = None
    tokens: float = 0.0  # taken from per-token buckets
    amount_usd: float = 0.0  # reserved against the budget
    lease_s: float = 60.0  # how long slots and the reservation outlive a vanished request

    @property
    def empty(self) -> bool:
        return not (self.buckets or self.slots or self.reservation)

    def cost(self, bucket: Bucket) -> float:
        return self.tokens if bucket.per_token else 1.0


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
    actual cost, and the output `tokens` it draws from its per-token buckets."""

    request_id: str
    slot_keys: tuple[str, ...] = ()
    reservation_key: str | None = None
    actual_usd: float = 0.0
    token_buckets: tuple[Bucket, ...] = field(default=())
    tokens: float = 0.0


def refill(tokens: float, last: float, now: float, bucket: Bucket) -> float:
    """Tokens in a bucket at `now`, given `tokens` at `last`."""
    return min(bucket.capacity, tokens + max(now - last, 0.0) * bucket.per_second)


def bucket_wait(tokens: float, bucket: Bucket, cost: float) -> float:
    """Seconds until the bucket holds `cost` tokens (inf if it never can)."""
    if cost > bucket.capacity:
        return math.inf
    return max(cost - tokens, 0.0) / bucket.per_second


def period_name(budget: BudgetDoc) -> str:
    """How reports name the budget's period: `daily`, `monthly`, … or `3600 s`."""
    return f"{budget.period_seconds} s" if budget.period_seconds is not None else (budget.period or "monthly")


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
    priority: Priority | None = None  # overrides the route's and the tenant's (batch items run low)


class Planner:
    """Builds asks; the buckets and slots of a (tenant, route, key, tier) and the budget
    of a period are built once and shared, so a request costs one `Ask`."""

    MAX_CACHED = 10_000

    def __init__(self, settings: AdmissionDoc) -> None:
        self._settings = settings
        self._shapes: dict[
            tuple[str, str, str, str, Priority | None], tuple[tuple[Bucket, ...], tuple[Slots, ...]]
        ] = {}
        self._budgets: dict[str, Reservation] = {}

    def plan(self, facts: Facts, now: float) -> Ask:
        shape_key = (facts.tenant.name, facts.route.name, facts.key_id, facts.tier, facts.priority)
        shape = self._shapes.get(shape_key)
        if shape is None:
            if len(self._shapes) >= self.MAX_CACHED:
                self._shapes.clear()
            shape = self._shapes[shape_key] = _shape(facts, self._settings)
        return Ask(
            facts.request_id,
            shape[0],
            shape[1],
            self._reservation(facts.tenant, now),
            tokens=float(facts.input_tokens),
            amount_usd=facts.worst_case_usd,
            lease_s=facts.deadline_s + self._settings.lease_margin_s,
        )

    def _reservation(self, tenant: TenantDoc, now: float) -> Reservation | None:
        budget = tenant.budget
        if budget is None:
            return None
        cached = self._budgets.get(tenant.name)
        if cached is not None and now < cached.period_end:
            return cached
        start, end = period_bounds(budget, now)
        key = budget_key(tenant.name, start)
        reservation = Reservation(key, "tenant budget", budget.hard_usd, budget.soft_usd, end)
        self._budgets[tenant.name] = reservation
        return reservation


def budget_key(tenant: str, period_start: float) -> str:
    """Where a tenant's spend for the period starting at `period_start` is kept."""
    return f"budget:{tenant}:{int(period_start)}"


def settlement(ask: Ask, *, actual_usd: float, output_tokens: int) -> Settlement:
    return Settlement(
        request_id=ask.request_id,
        slot_keys=tuple(s.key for s in ask.slots),
        reservation_key=ask.reservation.key if ask.reservation else None,
        actual_usd=actual_usd,
        token_buckets=tuple(b for b in ask.buckets if b.per_token) if output_tokens > 0 else (),
        tokens=float(output_tokens),
    )


def _shape(facts: Facts, settings: AdmissionDoc) -> tuple[tuple[Bucket, ...], tuple[Slots, ...]]:
    priority: Priority = facts.priority or facts.route.priority or facts.tenant.priority
    share = settings.priority_shares.get(priority, 1.0)
    buckets: list[Bucket] = []
    slots: list[Slots] = []
    scopes = (
        (f"key:{facts.key_id}", "key", facts.tenant.key_limits),
        (f"tenant:{facts.tenant.name}", "tenant", facts.tenant.limits),
        (f"route:{facts.route.name}", "route", facts.route.limits),
    )
    for scope, label, limits in scopes:
        if limits.rpm is not None:
            buckets.append(Bucket(f"rpm:{scope}", f"{label} rpm", limits.rpm, limits.rpm / MINUTE))
        if limits.tpm is not None:
            buckets.append(Bucket(f"tpm:{scope}", f"{label} tpm", limits.tpm, limits.tpm / MINUTE, per_token=True))
        if limits.concurrency is not None:
            slots.append(Slots(f"conc:{scope}", f"{label} concurrency", _share(limits.concurrency, share)))
    capacity = settings.capacity.get(facts.tier)
    if capacity is not None:
        slots.append(
            Slots(f"cap:tier:{facts.tier}", f"tier {facts.tier} capacity", _share(capacity.concurrency, share), True)
        )
    return tuple(buckets), tuple(slots)


def _share(limit: int, share: float) -> int:
    return max(1, math.floor(limit * share))
