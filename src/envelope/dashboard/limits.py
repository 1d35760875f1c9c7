"""Limit utilisation as far as the ledger can tell it, and the limits' refusals.

Rates come from ledger rows (every replica's, when they share a store) in minute
buckets: requests per minute against `rpm`, input + output tokens per minute against
`tpm`. In-flight requests are not kept anywhere readable, so concurrency is estimated
by Little's law: the seconds of latency the rows of a minute add up to, per second of
it, is the mean number in flight. Limits per key are not shown (the ledger rollup has
no key dimension). Refusals are this replica's counter since it started.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from envelope.config.base import Tier
from envelope.config.documents import LimitsDoc, RouteDoc, TenantDoc, TierCapacity
from envelope.ledger.rollup import Totals

MINUTE_S = 60.0
LimitKind = Literal["rpm", "tpm", "concurrency"]
Scope = Literal["tenant", "route", "tier"]
# The rollup dimensions the minute lines are grouped by, in this order.
GROUPING: tuple[Scope, ...] = ("tenant", "route", "tier")
BASIS: dict[LimitKind, str] = {
    "rpm": "requests per minute",
    "tpm": "input + output tokens per minute",
    "concurrency": "mean in flight (latency-seconds per second)",
}


@dataclass(frozen=True, slots=True)
class Utilisation:
    """One limit: its value, the last minute's use and the busiest minute of the window."""

    scope: Scope
    name: str
    limit: LimitKind
    value: int
    current: float  # over the last 60 s
    peak: float  # the busiest minute bucket of the window
    share: float  # peak / value
    basis: str


@dataclass(frozen=True, slots=True)
class Rejection:
    """Requests refused by one limit (429), by this replica since it started."""

    route: str
    tenant: str
    limit: str
    count: int


def use(totals: Totals, kind: LimitKind, seconds: float = MINUTE_S) -> float:
    """How much of a `kind` limit the rows of `totals` (spanning `seconds`) used, per minute or at once."""
    if kind == "rpm":
        return totals.requests * MINUTE_S / seconds
    if kind == "tpm":
        return (totals.input_tokens + totals.output_tokens) * MINUTE_S / seconds
    return totals.latency_ms / 1000.0 / seconds


Scoped = dict[tuple[Scope, str], dict[float, Totals]]


def _by_scope(lines: Iterable[Totals]) -> Scoped:
    """The lines summed per (scope, name) and bucket, in one pass: a line counts for its
    tenant, its route and its tier."""
    out: Scoped = {}
    for line in lines:
        bucket = line.bucket or 0.0
        for scope, name in zip(GROUPING, line.group, strict=False):
            if name is not None:
                buckets = out.setdefault((scope, name), {})
                buckets[bucket] = buckets[bucket] + line if bucket in buckets else line
    return out


def _measure(scope: Scope, name: str, kind: LimitKind, value: int, minutes: Scoped, last: Scoped) -> Utilisation:
    current = sum(use(t, kind) for t in last.get((scope, name), {}).values())
    peak = max([current, *(use(t, kind) for t in minutes.get((scope, name), {}).values())])
    return Utilisation(scope, name, kind, value, current, peak, peak / value, BASIS[kind])


def _limits(limits: LimitsDoc) -> list[tuple[LimitKind, int]]:
    named: tuple[tuple[LimitKind, int | None], ...] = (
        ("rpm", limits.rpm), ("tpm", limits.tpm), ("concurrency", limits.concurrency),
    )  # fmt: skip
    return [(kind, value) for kind, value in named if value is not None]


def utilisation(
    *,
    tenants: Sequence[TenantDoc],
    routes: Sequence[RouteDoc],
    capacity: Mapping[Tier, TierCapacity],
    minutes: Sequence[Totals],
    last_minute: Sequence[Totals],
) -> list[Utilisation]:
    """Every configured tenant, route and tier limit against the ledger: `minutes` are rollup
    lines by `GROUPING` in minute buckets over the window, `last_minute` the same over the
    last 60 s (unbucketed). Busiest first."""
    asked: list[tuple[Scope, str, LimitKind, int]] = []
    asked += [("tenant", t.name, kind, value) for t in tenants for kind, value in _limits(t.limits)]
    asked += [("route", r.name, kind, value) for r in routes for kind, value in _limits(r.limits)]
    asked += [("tier", tier, "concurrency", c.concurrency) for tier, c in capacity.items()]
    per_minute, last = _by_scope(minutes), _by_scope(last_minute)
    found = [_measure(scope, name, kind, value, per_minute, last) for scope, name, kind, value in asked]
    return sorted(found, key=lambda u: (-u.share, u.scope, u.name, u.limit))


def rejections(samples: Iterable[tuple[Mapping[str, str], float]]) -> list[Rejection]:
    """Refusal counts from the rejection counter's samples (labels route, tenant, limit), most first."""
    found = [
        Rejection(labels.get("route", "-"), labels.get("tenant", "-"), labels.get("limit", "-"), int(value))
        for labels, value in samples
        if value > 0
    ]
    return sorted(found, key=lambda r: (-r.count, r.limit, r.route, r.tenant))
