from __future__ import annotations

from envelope.core.breaker import Breaker, BreakerPolicy, adopt, allow, record

P = BreakerPolicy(failure_threshold=3, open_s=10, probes=1)


def fail(state: Breaker, now: float) -> Breaker:
    return record(state, P, ok=False, now=now)


def test_opens_after_consecutive_failures_only() -> None:
    s = fail(fail(Breaker(), 0), 1)
    assert s.mode == "closed" and s.failures == 2
    s = record(s, P, ok=True, now=2)  # a success resets the count
    assert s == Breaker()
    s = fail(fail(fail(s, 3), 4), 5)
    assert s.mode == "open" and s.opened_at == 5


def test_open_refuses_until_open_s_then_lets_one_probe_through() -> None:
    s = Breaker("open", opened_at=100)
    ok, s = allow(s, P, now=105)
    assert not ok and s.mode == "open"
    ok, s = allow(s, P, now=110)
    assert ok and s.mode == "half_open" and s.probing == 1
    ok, _ = allow(s, P, now=110.1)
    assert not ok  # only `probes` at a time


def test_probe_outcome_closes_or_reopens() -> None:
    _, probing = allow(Breaker("open", opened_at=0), P, now=20)
    assert record(probing, P, ok=True, now=21) == Breaker()
    reopened = record(probing, P, ok=False, now=21)
    assert reopened.mode == "open" and reopened.opened_at == 21


def test_closed_always_allows() -> None:
    ok, s = allow(Breaker(), P, now=0)
    assert ok and s == Breaker()


def test_adopting_another_replicas_opening_opens_until_the_same_moment() -> None:
    policy = BreakerPolicy(failure_threshold=3, open_s=10.0)
    adopted = adopt(Breaker(), policy, remaining_s=4.0, now=100.0)
    assert adopted.mode == "open"
    assert allow(adopted, policy, 103.9)[0] is False
    ok, probing = allow(adopted, policy, 104.0)
    assert ok and probing.mode == "half_open"
    mine = Breaker("open", opened_at=99.0)
    assert adopt(mine, policy, remaining_s=1.0, now=100.0) == mine  # an open breaker keeps its own clock
    assert adopt(Breaker(), policy, remaining_s=0.0, now=100.0) == Breaker()
