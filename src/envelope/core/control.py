"""Adaptive control, the decisions: when a route's latency breaches its p95 target, serve
it from a smaller tier; come back, one step at a time, once the nominal tier is fast again.

Pure: the figures and the clock are handed in. The shell (`control/controller.py`)
measures, calls `step` on each evaluation and applies the level in the decide stage.

Levels: 0 serves every request at the tier its policy chose; level n serves it n tiers
lower (never below the policy's `min_tier`), except a `probe_share` of requests that
keep the nominal tier so that its recovery can be seen at all.

- Down: the route's p95 over the window (requests at the current level) stays above the
  target for `breach_for_s`, with at least `min_requests` in the window → one level down
  (up to `max_steps`).
- Up (hysteresis): the nominal tier's p95 (the probes', and anything served at level 0)
  stays below `recover_ratio` × target for `recover_for_s` → one level up. Without enough
  probes for `retry_after_s`, one level up anyway: a try, which a new breach undoes.

Spend: a tenant whose budget is spent past `threshold` is in economy: its requests are
served one tier lower and its semantic-cache threshold is relaxed by `cache_relief`;
it leaves economy below `threshold − hysteresis` (a new budget period).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from envelope.config.control import AdaptiveDoc

Direction = Literal["down", "up"]


@dataclass(frozen=True, slots=True)
class Measured:
    """What the window saw: p95 (ms) and count of the requests served at the current level
    (`served`) and of those served at the nominal tier (`nominal`: probes, or everything at
    level 0)."""

    served_p95_ms: float | None
    served_count: int
    nominal_p95_ms: float | None
    nominal_count: int


@dataclass(frozen=True, slots=True)
class RouteState:
    level: int = 0
    since: float = 0.0  # when the level last changed
    downgraded_at: float | None = None  # when the route left level 0
    breach_since: float | None = None
    calm_since: float | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    direction: Direction
    from_level: int
    to_level: int
    at: float
    reason: str
    p95_ms: float | None
    target_ms: float
    downgraded_s: float | None = None  # on the way back to level 0: how long it lasted


def step(
    state: RouteState, seen: Measured, tune: AdaptiveDoc, target_ms: float, now: float
) -> tuple[RouteState, Transition | None]:
    """The route's next state, and the transition if the level changed (`target_ms`: the
    route's p95 target, `tune.p95_ms` or its `latency.p95_ms`)."""
    state = _watch(state, seen, tune, target_ms, now)
    breached = state.breach_since is not None and now - state.breach_since >= tune.breach_for_s
    if breached and state.level < tune.max_steps:
        reason = f"p95 {seen.served_p95_ms:.0f} ms > target {target_ms:.0f} ms for {tune.breach_for_s:g} s"
        return _move(state, state.level + 1, now, "down", reason, seen.served_p95_ms, target_ms)
    if state.level > 0:
        if state.calm_since is not None and now - state.calm_since >= tune.recover_for_s:
            reason = (
                f"nominal p95 {seen.nominal_p95_ms:.0f} ms < {tune.recover_ratio:g} × target "
                f"for {tune.recover_for_s:g} s"
            )
            return _move(state, state.level - 1, now, "up", reason, seen.nominal_p95_ms, target_ms)
        if seen.nominal_count < tune.min_probes and now - state.since >= tune.retry_after_s:
            reason = f"no evidence for {tune.retry_after_s:g} s (too few probes): trying one level up"
            return _move(state, state.level - 1, now, "up", reason, seen.nominal_p95_ms, target_ms)
    return state, None


def _watch(state: RouteState, seen: Measured, tune: AdaptiveDoc, target_ms: float, now: float) -> RouteState:
    """Start or stop the breach and calm clocks."""
    breaching = (
        seen.served_count >= tune.min_requests and seen.served_p95_ms is not None and seen.served_p95_ms > target_ms
    )
    calm = (
        state.level > 0
        and seen.nominal_count >= tune.min_probes
        and seen.nominal_p95_ms is not None
        and seen.nominal_p95_ms < tune.recover_ratio * target_ms
    )
    breach_since = (state.breach_since if state.breach_since is not None else now) if breaching else None
    calm_since = (state.calm_since if state.calm_since is not None else now) if calm else None
    if breach_since == state.breach_since and calm_since == state.calm_since:
        return state
    return replace(state, breach_since=breach_since, calm_since=calm_since)


def _move(
    state: RouteState, level: int, now: float, direction: Direction, reason: str, p95: float | None, target_ms: float
) -> tuple[RouteState, Transition]:
    downgraded_at = state.downgraded_at if state.level > 0 else now
    lasted = now - downgraded_at if level == 0 and downgraded_at is not None else None
    new = RouteState(level=level, since=now, downgraded_at=downgraded_at if level > 0 else None)
    return new, Transition(direction, state.level, level, now, reason, p95, target_ms, lasted)


# --- spend --------------------------------------------------------------------------


def economy(in_economy: bool, spent_fraction: float, threshold: float, hysteresis: float) -> bool:
    """Whether a tenant is (still) in economy, given the share of its budget spent."""
    if in_economy:
        return spent_fraction >= threshold - hysteresis
    return spent_fraction >= threshold


def is_probe(draw: float, probe_share: float) -> bool:
    """Whether a request on a downgraded route keeps the nominal tier (`draw` in [0, 1))."""
    return draw < probe_share
