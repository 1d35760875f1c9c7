"""The admission store port. Adapters: `memory.py` (one process), `redis.py` (shared)."""

from __future__ import annotations

from typing import Protocol

from envelope.core.admission import Ask, Decision, Settlement


class StoreUnavailable(Exception):
    """The shared store did not answer; the policy decides between refusing and local limits."""


class AdmissionStore(Protocol):
    async def admit(self, ask: Ask, now: float) -> Decision:
        """Atomically check every part of the ask; take all of it, or nothing."""
        ...

    async def settle(self, settlement: Settlement, now: float) -> None:
        """Release slots, settle the reservation to the actual cost, draw output tokens."""
        ...

    async def spent(self, reservation_key: str, now: float) -> tuple[float, float]:
        """(spent, reserved) USD of one budget period."""
        ...

    async def close(self) -> None: ...
