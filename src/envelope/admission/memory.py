"""Admission state in process memory: the embedded default, and the local fallback
a replica uses while the shared store is away. The same semantics as the Redis Lua
scripts; atomic because nothing here awaits. Expiries sit in heaps (lazily cleaned),
so a call costs O(log n) in the number of requests in flight, not O(n)."""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

from envelope.core.admission import EPSILON_USD, Ask, Bucket, Decision, Settlement, bucket_wait, refill


@dataclass(slots=True)
class _Leases:
    """Request ids holding something until an expiry; the heap may hold stale entries."""

    expiry: dict[str, float] = field(default_factory=dict)
    heap: list[tuple[float, str]] = field(default_factory=list)

    def add(self, request_id: str, until: float) -> None:
        self.expiry[request_id] = until
        heapq.heappush(self.heap, (until, request_id))

    def lapsed(self, now: float) -> list[str]:
        """Remove and return the ids whose lease has run out."""
        out = []
        while self.heap and self.heap[0][0] <= now:
            until, request_id = heapq.heappop(self.heap)
            if self.expiry.get(request_id) == until:
                del self.expiry[request_id]
                out.append(request_id)
        return out

    def release(self, request_id: str) -> None:
        """Drop a lease early; compact the heap once released entries dominate it."""
        if self.expiry.pop(request_id, None) is not None and len(self.heap) > 2 * len(self.expiry) + 64:
            self.heap = [(until, rid) for rid, until in self.expiry.items()]
            heapq.heapify(self.heap)

    def first_expiry(self) -> float:
        return min(self.expiry.values()) if self.expiry else math.inf


@dataclass(slots=True)
class _Budget:
    spent: float = 0.0
    reserved: float = 0.0
    amounts: dict[str, float] = field(default_factory=dict)
    holds: _Leases = field(default_factory=_Leases)
    period_end: float = math.inf

    def sweep(self, now: float) -> None:
        for request_id in self.holds.lapsed(now):
            self.reserved -= self.amounts.pop(request_id, 0.0)


class MemoryAdmission:
    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (tokens, at)
        self._slots: dict[str, _Leases] = {}
        self._budgets: dict[str, _Budget] = {}

    async def admit(self, ask: Ask, now: float) -> Decision:
        for bucket in ask.buckets:
            wait = bucket_wait(self._tokens(bucket, now), bucket, ask.cost(bucket))
            if wait > 0:
                return Decision(False, bucket.name, 0.0 if math.isinf(wait) else wait, never=math.isinf(wait))
        for slots in ask.slots:
            held = self._live(slots.key, now)
            if len(held.expiry) >= slots.limit:
                return Decision(False, slots.name, max(held.first_expiry() - now, 0.0), gate=slots.gate)
        soft = False
        reservation = ask.reservation
        budget = None if reservation is None else self._budget(reservation.key, now)
        if reservation is not None and budget is not None:
            total = budget.spent + budget.reserved + ask.amount_usd
            if reservation.hard_usd is not None and total > reservation.hard_usd + EPSILON_USD:
                never = ask.amount_usd > reservation.hard_usd
                return Decision(False, reservation.name, max(reservation.period_end - now, 0.0), never=never)
            soft = reservation.soft_usd is not None and total > reservation.soft_usd + EPSILON_USD
        for bucket in ask.buckets:
            self._buckets[bucket.key] = (self._tokens(bucket, now) - ask.cost(bucket), now)
        for slots in ask.slots:
            self._slots[slots.key].add(ask.request_id, now + ask.lease_s)
        if reservation is None or budget is None:
            return Decision(True)
        budget.reserved += ask.amount_usd
        budget.amounts[ask.request_id] = ask.amount_usd
        budget.holds.add(ask.request_id, now + ask.lease_s)
        budget.period_end = reservation.period_end
        return Decision(True, soft_exceeded=soft, spent_usd=budget.spent)

    async def settle(self, settlement: Settlement, now: float) -> None:
        for key in settlement.slot_keys:
            held = self._slots.get(key)
            if held is not None:
                held.release(settlement.request_id)
        if settlement.reservation_key is not None:
            budget = self._budget(settlement.reservation_key, now)
            budget.reserved -= budget.amounts.pop(settlement.request_id, 0.0)
            budget.holds.release(settlement.request_id)
            budget.spent += settlement.actual_usd
        for bucket in settlement.token_buckets:
            self._buckets[bucket.key] = (self._tokens(bucket, now) - settlement.tokens, now)

    async def spent(self, reservation_key: str, now: float) -> tuple[float, float]:
        budget = self._budget(reservation_key, now)
        return budget.spent, budget.reserved

    async def close(self) -> None:
        pass

    def _tokens(self, bucket: Bucket, now: float) -> float:
        tokens, at = self._buckets.get(bucket.key, (bucket.capacity, now))
        return refill(tokens, at, now, bucket)

    def _live(self, key: str, now: float) -> _Leases:
        held = self._slots.get(key)
        if held is None:
            held = self._slots[key] = _Leases()
        held.lapsed(now)
        return held

    def _budget(self, key: str, now: float) -> _Budget:
        budget = self._budgets.get(key)
        if budget is None:
            # a new period begins: earlier periods' budgets are over and forgotten
            for stale in [k for k, b in self._budgets.items() if b.period_end <= now]:
                del self._budgets[stale]
            budget = self._budgets[key] = _Budget()
        budget.sweep(now)
        return budget
