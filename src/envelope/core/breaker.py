"""A circuit breaker per deployment, as a pure state machine with the clock passed in.

    closed ──(failure_threshold consecutive failures)──▶ open
    open ──(open_s elapsed)──▶ half-open: `probes` requests let through
    half-open ──(a probe succeeds)──▶ closed      half-open ──(a probe fails)──▶ open

While open, requests skip the deployment (the fallback walk moves on) instead of
waiting for it to fail again. Replicas may share openings (`adopt`): a breaker another
replica opened opens here too, until the same moment.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

Mode = Literal["closed", "open", "half_open"]


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    failure_threshold: int = 5
    open_s: float = 10.0
    probes: int = 1


@dataclass(frozen=True, slots=True)
class Breaker:
    mode: Mode = "closed"
    failures: int = 0  # consecutive, while closed
    opened_at: float = 0.0
    probing: int = 0  # probes in flight, while half-open


def allow(state: Breaker, policy: BreakerPolicy, now: float) -> tuple[bool, Breaker]:
    """Whether a request may go to the deployment now, and the state after deciding."""
    if state.mode == "closed":
        return True, state
    if state.mode == "open":
        if now - state.opened_at < policy.open_s:
            return False, state
        state = Breaker("half_open", opened_at=state.opened_at)
    if state.probing < policy.probes:
        return True, replace(state, probing=state.probing + 1)
    return False, state


def record(state: Breaker, policy: BreakerPolicy, *, ok: bool, now: float) -> Breaker:
    """The state after an attempt's outcome (only failures the deployment is to blame for count)."""
    if ok:
        return Breaker()
    if state.mode == "half_open":
        return Breaker("open", opened_at=now)
    failures = state.failures + 1
    if failures >= policy.failure_threshold:
        return Breaker("open", opened_at=now)
    return replace(state, failures=failures)


def adopt(state: Breaker, policy: BreakerPolicy, *, remaining_s: float, now: float) -> Breaker:
    """The state once told that another replica opened this breaker, which stays open
    `remaining_s` more. An open breaker keeps its own clock; others open until then."""
    if state.mode == "open" or remaining_s <= 0:
        return state
    return Breaker("open", opened_at=now - max(policy.open_s - remaining_s, 0.0))
