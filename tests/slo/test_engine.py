from __future__ import annotations

import pytest

from envelope.config.documents import LatencyTargets
from envelope.config.slo import BurnWindowDoc, RouteSloDoc
from envelope.slo.engine import SloEngine
from envelope.slo.objectives import RouteObjectives
from envelope.slo.observation import Observation, outcome
from tests.slo.scenario import engine, objectives, obs, settings


def test_client_errors_do_not_count_and_server_errors_are_bad() -> None:
    assert outcome(200) == (True, True)
    assert outcome(429) == (True, False)
    assert outcome(499) == (True, False)
    assert outcome(400) == (True, False)
    assert outcome(502) == (False, True)
    assert outcome(504) == (False, True)
    built = Observation.from_status(503, route="r", tenant="t", tier="S", ts=1.0, latency_s=0.1)
    assert (built.ok, built.counted) == (False, True)


def test_verdicts_against_the_route_targets() -> None:
    e = engine()  # chat: p95 500 ms, TTFT 200 ms
    assert e.observe(obs(1.0, 0.2, ttft_s=0.1)) == (True, True, True)
    assert e.observe(obs(1.0, 0.8, ttft_s=0.3)) == (True, False, False)
    assert e.observe(obs(1.0, 0.5)) == (True, True, None)  # within target: at most p95
    assert e.observe(obs(1.0, 0.8, status=502)) == (False, False, None)
    assert e.observe(obs(1.0, 0.8, status=429)) == (None, None, None)
    assert e.observe(obs(1.0, 0.8, route="unknown")) == (True, None, None)


def test_rolling_stats_per_route_and_per_tier() -> None:
    e = engine()
    for i in range(100):
        t = 100.0 + i * 0.5
        e.observe(obs(t, 0.1, tier="S", cost_usd=0.001, attempts=1))
        e.observe(obs(t, 1.0, tier="L", cost_usd=0.01, attempts=2, fallback=i % 10 == 0, cache_hit=False))
    now = 150.0
    small = e.stats("chat", "S", window_s=60.0, now=now)
    large = e.stats("chat", "L", window_s=60.0, now=now)
    assert small.count == 100 and large.count == 100
    assert small.p95_s == pytest.approx(0.1, rel=0.05)
    assert large.p95_s == pytest.approx(1.0, rel=0.05)
    assert e.p95("chat", "L", 60.0, now) == large.p95_s
    both = e.stats("chat", window_s=60.0, now=now)
    assert both.count == 200
    assert both.p50_s == pytest.approx(0.1, rel=0.05)
    assert both.p99_s == pytest.approx(1.0, rel=0.05)
    assert both.cost_usd == pytest.approx(1.1)
    assert both.fallback_rate == pytest.approx(10 / 200)
    assert both.attempts_per_request == pytest.approx(300 / 200)
    assert both.error_rate == 0.0
    assert e.stats("nothing", window_s=60.0, now=now).count == 0
    assert e.p95("chat", "M", 60.0, now) is None
    # tiers are kept for the quantile horizon only; routes for the period
    assert e.stats("chat", window_s=3600.0, now=now).p95_s is None
    assert e.stats("chat", window_s=3600.0, now=now).count == 200


def test_report_objectives_budget_and_burn_rates() -> None:
    e = engine(burn={"windows": [{"long_s": 60, "short_s": 10, "factor": 14.4}]})
    # 1000 s of good traffic, then 60 s with 20 % of requests failing and 50 % slow
    for i in range(1000):
        e.observe(obs(float(i), 0.1))
    for i in range(60):
        for j in range(10):
            e.observe(obs(1000.0 + i + j / 20, 1.0 if j % 2 else 0.1, status=502 if j < 2 else 200))
    report = e.evaluate(1059.9)
    chat = report.route("chat")
    assert chat is not None
    assert [o.objective for o in chat.objectives] == ["availability", "latency", "ttft"]
    availability = chat.objective("availability")
    latency = chat.objective("latency")
    assert availability is not None and latency is not None
    assert availability.target == 0.999 and latency.threshold_s == 0.5
    assert availability.good_fraction == pytest.approx(0.8)
    assert latency.good_fraction == pytest.approx(0.5)
    long, short = availability.burn(60.0), availability.burn(10.0)
    assert long is not None and short is not None
    assert long.rate == pytest.approx(0.2 / 0.001)
    assert short.events == 100
    latency_burn = latency.burn(60.0)
    assert latency_burn is not None and latency_burn.rate == pytest.approx(0.5 / 0.05)
    # period: 1600 events, 120 bad → 7.5 % bad against a 0.1 % budget
    assert availability.period_events == 1600
    assert availability.budget_remaining == pytest.approx(1 - (120 / 1600) / 0.001)
    assert chat.rolling.p50_s is not None and chat.rolling.window_s == 60.0


def test_a_route_without_targets_has_only_availability() -> None:
    e = SloEngine(settings(), {"plain": RouteObjectives.of("plain", LatencyTargets())})
    report = e.evaluate(10.0)
    plain = report.route("plain")
    assert plain is not None
    assert [o.objective for o in plain.objectives] == ["availability"]
    assert plain.rolling.count == 0 and plain.rolling.p95_s is None


def test_route_burn_windows_override_the_gateway_ones() -> None:
    pair = BurnWindowDoc(long_s=120, short_s=20, factor=2)
    e = SloEngine(settings(), objectives(burn_windows=[pair]))
    availability = e.evaluate(10.0).routes[0].objective("availability")
    assert availability is not None
    assert [b.window_s for b in availability.burns] == [20.0, 120.0]


def test_spend_baseline_uses_the_history_seen() -> None:
    e = engine()  # cost window 60 s, baseline 600 s, coarse buckets 10 s
    for t in range(0, 900, 10):  # $0.01 every 10 s: $0.06 per minute
        e.observe(obs(float(t), cost_usd=0.01, tenant="acme"))
    e.observe(obs(895.0, cost_usd=1.0, tenant="new"))
    report = e.evaluate(899.0)
    by_tenant = {s.tenant: s for s in report.spend}
    acme, new, overall = by_tenant["acme"], by_tenant["new"], by_tenant[None]
    assert acme.spent_usd == pytest.approx(0.06)
    assert acme.baseline_usd == pytest.approx(0.06)
    assert acme.history_s == 600.0
    assert new.spent_usd == 1.0 and new.history_s == 0.0 and new.baseline_usd == 0.0
    assert overall.spent_usd == pytest.approx(1.06)
    # a young gateway: the baseline is the mean over what it has seen
    young = engine()
    for t in range(0, 240, 10):
        young.observe(obs(float(t), cost_usd=0.01))
    first = {s.tenant: s for s in young.evaluate(239.0).spend}["acme"]
    assert first.history_s == 180.0
    assert first.baseline_usd == pytest.approx(0.06)


def test_reconfigure_keeps_statistics_and_refuses_windows_beyond_the_horizon() -> None:
    e = engine()
    e.observe(obs(5.0))
    e.reconfigure(objectives(p95_ms=50))
    assert e.objectives("chat").p95_s == 0.05
    assert e.stats("chat", window_s=60.0, now=5.0).count == 1
    too_long = BurnWindowDoc(long_s=10 * 3600, short_s=60, factor=1)
    with pytest.raises(ValueError):
        e.reconfigure(objectives(burn_windows=[too_long]))


def test_route_objectives_come_from_the_route_documents() -> None:
    target = RouteObjectives.of(
        "chat", LatencyTargets(p50_ms=100, p95_ms=400, p99_ms=900, ttft_ms=150), RouteSloDoc(availability=0.99)
    )
    assert (target.p50_s, target.p95_s, target.p99_s, target.ttft_s) == (0.1, 0.4, 0.9, 0.15)
    assert target.target("availability") == 0.99
    assert target.target("latency") == 0.95
    assert target.has("ttft") and not RouteObjectives(route="x").has("latency")
