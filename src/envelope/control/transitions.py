"""What the control plane keeps of what it did: a route's control level, a tenant's
economy, a canary rolled back (`control_transitions`), and shadow results. Written in the
background: a store fault loses the record, said so in the log, never the decision."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from envelope.store.records import TransitionRecord

log = logging.getLogger("envelope.control")

R = TypeVar("R")

TransitionLog = Callable[[TransitionRecord], Awaitable[None]]


async def store(write: Callable[[R], Awaitable[None]] | None, record: R) -> None:
    """Write `record` with `write` (None: nothing is kept)."""
    if write is None:
        return
    try:
        await write(record)
    except Exception as exc:  # whatever the store raised: the control plane goes on
        log.error("not stored (%s): %s", exc, record)
