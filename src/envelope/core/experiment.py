"""Experiments, the decisions: which arm a request falls in, and whether a canary must be
rolled back. Pure: the unit's hash and the arms' figures are handed in.

Assignment is by a stable hash of the unit (the API key by default, so one caller sees
one arm; or the request) and the experiment's name, mapped onto the arms' cumulative
weights: the same unit always lands in the same arm while the weights hold, and raising
a canary's weight only moves units from control into the candidate.

A canary is rolled back when its candidate, over at least `min_requests`, is slower
(p95 over `max_p95_ratio` × control's), fails more (error rate over control's by more
than `max_error_rate_delta`), or answers worse (share of answers a guardrail changed or
flagged over control's by more than `max_guard_rate_delta`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from envelope.config.control import RollbackDoc


def bucket(experiment: str, unit: str) -> float:
    """A stable point in [0, 1) for `unit` in `experiment`."""
    digest = hashlib.blake2b(f"{experiment}\x00{unit}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def assign(weights: Sequence[float], point: float) -> int:
    """The index of the arm holding `point` when [0, 1) is split by `weights` in order."""
    total = sum(weights)
    if total <= 0:
        return 0
    edge = 0.0
    for index, weight in enumerate(weights):
        edge += weight / total
        if point < edge:
            return index
    return len(weights) - 1


@dataclass(frozen=True, slots=True)
class Figures:
    """What a population of requests did over a window."""

    requests: int
    p95_ms: float | None
    errors: int
    guarded: int  # answers a guardrail refused, replaced or flagged

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def guard_rate(self) -> float:
        return self.guarded / self.requests if self.requests else 0.0


def breach(control: Figures, candidate: Figures, rule: RollbackDoc) -> str | None:
    """Why the candidate must be rolled back, or None while it holds (or is too young to say)."""
    if candidate.requests < rule.min_requests:
        return None
    slower = (
        candidate.p95_ms is not None
        and control.p95_ms is not None
        and control.requests >= rule.min_requests
        and candidate.p95_ms > rule.max_p95_ratio * control.p95_ms
    )
    if slower:
        return (
            f"p95 {candidate.p95_ms:.0f} ms > {rule.max_p95_ratio:g} × control's {control.p95_ms:.0f} ms "
            f"over {candidate.requests} requests"
        )
    if candidate.error_rate > control.error_rate + rule.max_error_rate_delta:
        return (
            f"error rate {candidate.error_rate:.1%} > control's {control.error_rate:.1%} "
            f"+ {rule.max_error_rate_delta:.1%} over {candidate.requests} requests"
        )
    if candidate.guard_rate > control.guard_rate + rule.max_guard_rate_delta:
        return (
            f"guardrail failures {candidate.guard_rate:.1%} > control's {control.guard_rate:.1%} "
            f"+ {rule.max_guard_rate_delta:.1%} over {candidate.requests} requests"
        )
    return None
