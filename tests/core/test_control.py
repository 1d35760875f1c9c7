"""The adaptive controller's decisions (pure): down on a sustained breach, up with hysteresis."""

from __future__ import annotations

from envelope.config.control import AdaptiveDoc
from envelope.core.control import Measured, RouteState, economy, is_probe, step

TARGET_MS = 100.0
TUNE = AdaptiveDoc(
    window_s=10.0,
    min_requests=10,
    breach_for_s=5.0,
    recover_ratio=0.8,
    recover_for_s=20.0,
    min_probes=3,
    retry_after_s=100.0,
    max_steps=1,
)


def seen(served: float | None, n: int = 50, nominal: float | None = None, probes: int = 0) -> Measured:
    return Measured(served, n, nominal if nominal is not None else served, probes if nominal is not None else n)


def run(state: RouteState, measured: Measured, times: list[float], tune: AdaptiveDoc = TUNE) -> tuple[RouteState, list]:
    moves = []
    for t in times:
        state, moved = step(state, measured, tune, TARGET_MS, t)
        if moved is not None:
            moves.append(moved)
    return state, moves


def test_a_short_spike_does_not_downgrade() -> None:
    state, moves = run(RouteState(), seen(300.0), [0.0, 1.0, 4.9])
    assert moves == [] and state.level == 0 and state.breach_since == 0.0
    state, moves = run(state, seen(50.0), [5.5, 10.0])  # the spike passed: the clock stops
    assert moves == [] and state.breach_since is None


def test_a_sustained_breach_downgrades_once() -> None:
    state, moves = run(RouteState(), seen(300.0), [0.0, 2.0, 5.0, 6.0, 30.0])
    assert [(m.direction, m.from_level, m.to_level, m.at) for m in moves] == [("down", 0, 1, 5.0)]
    assert state.level == 1 and state.downgraded_at == 5.0
    assert "300 ms > target 100 ms" in moves[0].reason


def test_too_few_requests_decide_nothing() -> None:
    state, moves = run(RouteState(), seen(900.0, n=9), [0.0, 10.0, 60.0])
    assert moves == [] and state.level == 0


def test_recovery_needs_the_nominal_tier_calm_for_the_whole_hysteresis() -> None:
    state, _ = run(RouteState(), seen(300.0), [0.0, 5.0])
    assert state.level == 1
    # the smaller tier is fast; the nominal tier's probes are still slow: stay down
    state, moves = run(state, seen(40.0, nominal=300.0, probes=5), [6.0, 20.0, 40.0])
    assert moves == [] and state.level == 1
    # probes under target but above recover_ratio × target (85 > 80): no recovery (hysteresis)
    state, moves = run(state, seen(40.0, nominal=85.0, probes=5), [41.0, 80.0])
    assert moves == []
    # calm (50 < 80) from t=81: recovers at t=101, not before
    state, moves = run(state, seen(40.0, nominal=50.0, probes=5), [81.0, 100.9])
    assert moves == []
    state, moves = run(state, seen(40.0, nominal=50.0, probes=5), [101.0])
    assert [(m.direction, m.to_level) for m in moves] == [("up", 0)]
    assert moves[0].downgraded_s == 101.0 - 5.0
    assert state.level == 0 and state.downgraded_at is None


def test_a_calm_interrupted_starts_over() -> None:
    state, _ = run(RouteState(), seen(300.0), [0.0, 5.0])
    state, _ = run(state, seen(40.0, nominal=50.0, probes=5), [10.0, 25.0])
    state, _ = run(state, seen(40.0, nominal=200.0, probes=5), [26.0])  # a slow probe window
    state, moves = run(state, seen(40.0, nominal=50.0, probes=5), [27.0, 46.0])
    assert moves == [] and state.level == 1
    state, moves = run(state, seen(40.0, nominal=50.0, probes=5), [47.0])
    assert [m.direction for m in moves] == ["up"]


def test_without_probes_it_retries_after_a_while() -> None:
    state, _ = run(RouteState(), seen(300.0), [0.0, 5.0])
    state, moves = run(state, Measured(40.0, 50, None, 0), [50.0, 104.9])
    assert moves == []
    state, moves = run(state, Measured(40.0, 50, None, 0), [105.0])
    assert [(m.direction, m.to_level) for m in moves] == [("up", 0)]
    assert "too few probes" in moves[0].reason


def test_max_steps_bounds_the_descent() -> None:
    two = AdaptiveDoc(min_requests=10, breach_for_s=5.0, max_steps=2)
    state, moves = run(RouteState(), seen(300.0), [0.0, 5.0], two)
    assert state.level == 1
    # still breaching at level 1 (the clocks restarted at the transition)
    state, moves = run(state, seen(300.0, nominal=300.0, probes=5), [6.0, 10.9, 11.0, 30.0, 60.0], two)
    assert [(m.from_level, m.to_level) for m in moves] == [(1, 2)]
    assert state.level == 2


def test_economy_has_hysteresis() -> None:
    assert economy(False, 0.79, 0.8, 0.05) is False
    assert economy(False, 0.8, 0.8, 0.05) is True
    assert economy(True, 0.76, 0.8, 0.05) is True
    assert economy(True, 0.74, 0.8, 0.05) is False


def test_probe_share() -> None:
    assert is_probe(0.04, 0.05) and not is_probe(0.05, 0.05) and not is_probe(0.0, 0.0)
