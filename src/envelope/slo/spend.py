"""Spend per tenant (and overall) in coarse buckets, for cost-anomaly detection.

Each tenant has a ring of USD sums per `bucket_s` bucket, `horizon_s` deep, and the
time it was first seen, so a baseline is the mean over the history actually observed
(a gateway started an hour ago has no 24 h baseline yet). Recording is O(1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

ALL = "*"  # the key of the overall spend


class SpendRing:
    __slots__ = ("first_seen", "last_number", "numbers", "sums")

    def __init__(self, size: int, first_seen: float) -> None:
        self.first_seen = first_seen
        self.last_number = -1
        self.numbers = [-1] * size
        self.sums = [0.0] * size

    def add(self, number: int, usd: float) -> None:
        slot = number % len(self.numbers)
        if self.numbers[slot] != number:
            if self.numbers[slot] > number:
                return  # older than the horizon
            self.numbers[slot] = number
            self.sums[slot] = 0.0
        self.sums[slot] += usd
        if number > self.last_number:
            self.last_number = number


@dataclass(frozen=True, slots=True)
class SpendWindow:
    """Spend over a window and its baseline: the mean spend per window over the history
    before it (up to `baseline_s`); `history_s` is how much history there was."""

    spent_usd: float
    baseline_usd: float
    history_s: float


class Spend:
    """Spend rings keyed by tenant, plus the overall one under `ALL`."""

    __slots__ = ("_inv_width", "_rings", "_size", "horizon_s", "width")

    def __init__(self, *, bucket_s: float, horizon_s: float) -> None:
        self.width = bucket_s
        self.horizon_s = horizon_s
        self._inv_width = 1.0 / bucket_s
        self._size = math.ceil(horizon_s / bucket_s) + 1
        self._rings: dict[str, SpendRing] = {}

    def record(self, tenant: str, ts: float, usd: float) -> None:
        rings = self._rings
        ring = rings.get(tenant)
        if ring is None:
            ring = rings[tenant] = SpendRing(self._size, ts)
            if ALL not in rings:
                rings[ALL] = SpendRing(self._size, ts)
        elif usd == 0.0:
            return  # nothing to add; the tenant's history has started already
        number = math.floor(ts * self._inv_width)
        ring.add(number, usd)
        rings[ALL].add(number, usd)

    def tenants(self) -> list[str]:
        """Keys with a ring, `ALL` included."""
        return list(self._rings)

    def total(self, tenant: str, start: float, end: float) -> float:
        """USD spent in buckets whose start lies in [start, end)."""
        ring = self._rings.get(tenant)
        if ring is None:
            return 0.0
        first = math.ceil(start * self._inv_width - 1e-9)
        last = math.ceil(end * self._inv_width - 1e-9) - 1
        return sum(s for n, s in zip(ring.numbers, ring.sums, strict=True) if first <= n <= last)

    def window(self, tenant: str, *, window_s: float, baseline_s: float, now: float) -> SpendWindow:
        """Spend in the last `window_s` and the mean per `window_s` over up to `baseline_s` before it."""
        ring = self._rings.get(tenant)
        if ring is None:
            return SpendWindow(0.0, 0.0, 0.0)
        # whole buckets: the window ends with the bucket holding `now`
        end = (math.floor(now * self._inv_width) + 1) * self.width
        start = end - window_s
        history_start = max(start - baseline_s, math.floor(ring.first_seen * self._inv_width) * self.width)
        history_s = max(0.0, start - history_start)
        spent = self.total(tenant, start, end)
        baseline = self.total(tenant, history_start, start) * window_s / history_s if history_s > 0 else 0.0
        return SpendWindow(spent, baseline, history_s)

    def forget_idle(self, now: float) -> None:
        """Drop tenants with no spend recorded within the horizon."""
        oldest = math.floor((now - self.horizon_s) * self._inv_width)
        for key in [k for k, ring in self._rings.items() if ring.last_number < oldest]:
            del self._rings[key]
