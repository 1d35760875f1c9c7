"""What the control plane changed by itself, as stored: a route's control level, a
tenant's economy, a canary rolled back. Written to the store's `control_transitions`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from envelope.store.records import TransitionRecord

log = logging.getLogger("envelope.control")


TransitionLog = Callable[[TransitionRecord], Awaitable[None]]


async def store(log_transition: TransitionLog | None, record: TransitionRecord) -> None:
    """Write `record`; a store fault loses the record (said so in the log), never the transition."""
    if log_transition is None:
        return
    try:
        await log_transition(record)
    except Exception as exc:  # whatever the store raised: the control plane goes on
        log.error("transition not stored (%s): %s", exc, record)
