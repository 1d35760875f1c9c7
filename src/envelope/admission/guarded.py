"""The shared store, guarded by the failure policy.

While the shared store answers, it decides. When it does not, `fail_closed` refuses
(503) and `fail_open` admits under local limits — each replica enforcing
`local_share` of every limit on its own, budgets counted against local spend only —
with a warning logged at most once a minute. A request is always settled by the
store that admitted it.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time

from envelope.admission.memory import MemoryAdmission
from envelope.admission.ports import AdmissionStore, StoreUnavailable
from envelope.core.admission import Ask, Decision, Settlement
from envelope.errors import Unavailable

log = logging.getLogger("envelope.admission")
WARN_EVERY_S = 60.0


class GuardedAdmission:
    def __init__(self, shared: AdmissionStore, *, fail_open: bool, local_share: float) -> None:
        self._shared = shared
        self._local = MemoryAdmission()
        self._fail_open = fail_open
        self._share = local_share
        self._local_ids: set[str] = set()
        self._warned_at = -math.inf
        self.failures = 0

    async def admit(self, ask: Ask, now: float) -> Decision:
        try:
            return await self._shared.admit(ask, now)
        except StoreUnavailable as exc:
            self.failures += 1
            self._warn(exc)
            if not self._fail_open:
                raise Unavailable(
                    "Admission is unavailable: the shared limits store does not answer.", headers={"retry-after": "1"}
                ) from exc
        decision = await self._local.admit(_scaled(ask, self._share), now)
        if decision.admitted:
            self._local_ids.add(ask.request_id)
        return dataclasses.replace(decision, local=True)

    async def settle(self, settlement: Settlement, now: float) -> None:
        if settlement.request_id in self._local_ids:
            self._local_ids.discard(settlement.request_id)
            await self._local.settle(settlement, now)
            return
        try:
            await self._shared.settle(settlement, now)
        except StoreUnavailable as exc:  # its slots and reservation lapse with their leases
            self.failures += 1
            self._warn(exc)

    async def spent(self, reservation_key: str, now: float) -> tuple[float, float]:
        return await self._shared.spent(reservation_key, now)

    async def close(self) -> None:
        await self._shared.close()

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            policy = "admitting under local per-replica limits" if self._fail_open else "refusing requests"
            log.warning("admission store unavailable (%s); %s", exc, policy)


def _scaled(ask: Ask, share: float) -> Ask:
    if share >= 1.0:
        return ask
    buckets = tuple(
        dataclasses.replace(b, capacity=b.capacity * share, per_second=b.per_second * share) for b in ask.buckets
    )
    slots = tuple(dataclasses.replace(s, limit=max(1, math.floor(s.limit * share))) for s in ask.slots)
    reservation = ask.reservation
    if reservation is not None:
        reservation = dataclasses.replace(
            reservation,
            hard_usd=None if reservation.hard_usd is None else reservation.hard_usd * share,
            soft_usd=None if reservation.soft_usd is None else reservation.soft_usd * share,
        )
    return dataclasses.replace(ask, buckets=buckets, slots=slots, reservation=reservation)
