"""What the simulator needs to know of one request: the values the policy decided.

Kept apart from the policy (which reads the Envelope config) and from the engine
(which only moves requests through replicas), so the engine can be driven directly
by tests and the policy tested without running a fleet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from envelope.config.documents import CapacityStep, Tier

Status = Literal["served", "cached", "shed", "rejected"]


@dataclass(frozen=True, slots=True)
class Plan:
    """One request as the engine sees it.

    `tiers` are the tiers it may be served from: the first is where it goes, the others
    are tried in order by a `next_tier` capacity step. `steps` are what to do when the
    first tier has no room (the policy's `capacity` actions); `wait_ms` bounds a wait
    that another step follows; a last wait is bounded by what is left of `deadline_ms`.
    """

    t: float  # arrival, seconds from the start of the trace
    input_tokens: int
    output_tokens: int
    tiers: tuple[Tier, ...] = ("M",)
    steps: tuple[CapacityStep, ...] = ("wait",)
    wait_ms: float | None = None
    deadline_ms: float = 60_000.0
    cached: bool = False
    rejected: str | None = None  # why the gateway would refuse it before any tier (e.g. input too long)
