"""Admission state in process memory: the embedded default, and the local fallback
a replica uses while the shared store is away. The same semantics as the Redis Lua
scripts; atomic because nothing here awaits."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from envelope.core.admission import EPSILON_USD, Ask, Bucket, Decision, Settlement, bucket_wait, refill


@dataclass(slots=True)
class _Budget:
    spent: float = 0.0
    reserved: float = 0.0
    holds: dict[str, tuple[float, float]] = field(default_factory=dict)  # request id → (amount, expiry)
    expires: float = math.inf

    def sweep(self, now: float) -> None:
        for request_id, (amount, expiry) in list(self.holds.items()):
            if expiry <= now:
                self.reserved -= amount
                del self.holds[request_id]


class MemoryAdmission:
    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (tokens, at)
        self._slots: dict[str, dict[str, float]] = {}  # key → request id → expiry
        self._budgets: dict[str, _Budget] = {}

    async def admit(self, ask: Ask, now: float) -> Decision:
        for bucket in ask.buckets:
            tokens = self._tokens(bucket, now)
            wait = bucket_wait(tokens, bucket)
            if wait > 0:
                return Decision(False, bucket.name, 0.0 if math.isinf(wait) else wait, never=math.isinf(wait))
        for slots in ask.slots:
            held = self._live_slots(slots.key, now)
            if len(held) >= slots.limit:
                return Decision(False, slots.name, _slot_wait(held, now), gate=slots.gate)
        soft = False
        budget = None
        reservation = ask.reservation
        if reservation is not None:
            budget = self._budget(reservation.key, now)
            total = budget.spent + budget.reserved + reservation.amount_usd
            if reservation.hard_usd is not None and total > reservation.hard_usd + EPSILON_USD:
                never = reservation.amount_usd > reservation.hard_usd
                return Decision(False, reservation.name, max(reservation.period_end - now, 0.0), never=never)
            soft = reservation.soft_usd is not None and total > reservation.soft_usd + EPSILON_USD
        for bucket in ask.buckets:
            self._buckets[bucket.key] = (self._tokens(bucket, now) - bucket.cost, now)
        for slots in ask.slots:
            self._live_slots(slots.key, now)[ask.request_id] = now + slots.lease_s
        spent = 0.0
        if reservation is not None and budget is not None:
            budget.reserved += reservation.amount_usd
            budget.holds[ask.request_id] = (reservation.amount_usd, now + reservation.lease_s)
            budget.expires = reservation.period_end
            spent = budget.spent
        return Decision(True, soft_exceeded=soft, spent_usd=spent)

    async def settle(self, settlement: Settlement, now: float) -> None:
        for key in settlement.slot_keys:
            self._slots.get(key, {}).pop(settlement.request_id, None)
        if settlement.reservation_key is not None:
            budget = self._budget(settlement.reservation_key, now)
            amount, _ = budget.holds.pop(settlement.request_id, (0.0, 0.0))
            budget.reserved -= amount
            budget.spent += settlement.actual_usd
        for bucket in settlement.token_buckets:
            self._buckets[bucket.key] = (self._tokens(bucket, now) - bucket.cost, now)

    async def spent(self, reservation_key: str, now: float) -> tuple[float, float]:
        budget = self._budget(reservation_key, now)
        return budget.spent, budget.reserved

    async def close(self) -> None:
        pass

    def _tokens(self, bucket: Bucket, now: float) -> float:
        tokens, at = self._buckets.get(bucket.key, (bucket.capacity, now))
        return refill(tokens, at, now, bucket)

    def _live_slots(self, key: str, now: float) -> dict[str, float]:
        held = self._slots.setdefault(key, {})
        for request_id in [r for r, expiry in held.items() if expiry <= now]:
            del held[request_id]
        return held

    def _budget(self, key: str, now: float) -> _Budget:
        for stale in [k for k, b in self._budgets.items() if b.expires <= now]:
            del self._budgets[stale]  # past periods reset
        budget = self._budgets.setdefault(key, _Budget())
        budget.sweep(now)
        return budget


def _slot_wait(held: dict[str, float], now: float) -> float:
    return max(min(held.values()) - now, 0.0) if held else 0.0
