from __future__ import annotations

from typing import Any

import pytest

from envelope.slo.alerts import Alert, AlertEvent, Alerting
from envelope.slo.engine import SloEngine
from tests.slo.scenario import objectives, obs, settings, steady


class Scenario:
    """An engine and its alerting, stepped at chosen times."""

    def __init__(self, route_slo: dict[str, Any] | None = None, **overrides: Any) -> None:
        self.settings = settings(**overrides)
        self.engine = SloEngine(self.settings, objectives(**(route_slo or {})))
        self.alerting = Alerting(self.settings)

    def step(self, now: float) -> list[AlertEvent]:
        return self.alerting.step(self.engine.evaluate(now), now)

    def firing(self, name: str) -> list[Alert]:
        return [a for a in self.alerting.firing() if a.name == name]


def states(events: list[AlertEvent], name: str) -> list[str]:
    return [e.state for e in events if e.alert.name == name]


def test_fast_burn_pages_then_resolves() -> None:
    s = Scenario()
    steady(s.engine, 0, 300)  # healthy
    assert s.step(300.0) == []
    steady(s.engine, 300, 360, latency_s=2.0)  # a minute of requests all over the 500 ms target
    events = s.step(360.0)
    assert states(events, "EnvelopeLatencyBudgetBurn") == ["firing"]  # for_s 0: straight to firing
    (alert,) = s.firing("EnvelopeLatencyBudgetBurn")
    assert alert.label("route") == "chat" and alert.label("objective") == "latency"
    assert alert.label("severity") == "page" and alert.label("window") == "1m/10s"
    assert alert.starts_at == 360.0 and alert.ends_at is None
    assert alert.value == pytest.approx(20.0)  # all bad against a 5 % budget
    assert alert.threshold == 14.4
    assert alert.annotation("runbook_url") == "docs/runbooks.md#EnvelopeLatencyBudgetBurn"
    summary = alert.annotation("summary") or ""
    assert "20.0×" in summary and "14.4×" in summary
    assert s.firing("EnvelopeAvailabilityBudgetBurn") == []
    # good traffic again: the short window clears first and the page resolves
    steady(s.engine, 360, 375)
    events = s.step(375.0)
    assert states(events, "EnvelopeLatencyBudgetBurn") == ["resolved"]
    resolved = next(e.alert for e in events if e.state == "resolved")
    assert resolved.ends_at == 375.0 and resolved.starts_at == 360.0
    assert s.step(376.0) == []


def test_a_burn_needs_both_windows() -> None:
    s = Scenario()
    steady(s.engine, 0, 300)
    steady(s.engine, 300, 310, latency_s=2.0)  # a 10 s blip: the 10 s window burns, the 60 s one not enough
    report = s.engine.evaluate(309.9)
    latency = report.routes[0].objective("latency")
    assert latency is not None
    short, long = latency.burn(10.0), latency.burn(60.0)
    assert short is not None and short.rate is not None and short.rate >= 14.4
    assert long is not None and long.rate is not None and long.rate < 14.4
    assert s.alerting.step(report, 309.9) == []


def test_low_traffic_does_not_page() -> None:
    s = Scenario()
    for t in range(5):
        s.engine.observe(obs(100.0 + t, 2.0))  # 5 slow requests: under min_events
    assert s.step(105.0) == []


def test_availability_burn_on_server_errors() -> None:
    s = Scenario()
    steady(s.engine, 0, 60, status=502)
    events = s.step(60.0)
    assert states(events, "EnvelopeAvailabilityBudgetBurn") == ["firing"]
    steady(s.engine, 60, 65, status=429)  # client errors do not count: no good events either
    assert states(s.step(65.0), "EnvelopeAvailabilityBudgetBurn") == []
    (alert,) = s.firing("EnvelopeAvailabilityBudgetBurn")
    assert alert.value == pytest.approx(1000.0)  # all bad against a 0.1 % budget
    steady(s.engine, 65, 80)
    assert states(s.step(80.0), "EnvelopeAvailabilityBudgetBurn") == ["resolved"]


def test_pending_until_for_s_then_firing() -> None:
    s = Scenario(ttft={"for_s": 30})
    steady(s.engine, 0, 60, ttft_s=0.5)  # TTFT target 200 ms
    events = s.step(60.0)
    assert states(events, "EnvelopeTtftP95High") == ["pending"]
    (pending,) = s.alerting.pending()
    assert pending.active_at == 60.0 and pending.starts_at is None
    assert s.firing("EnvelopeTtftP95High") == []
    steady(s.engine, 60, 80, ttft_s=0.5)
    assert states(s.step(80.0), "EnvelopeTtftP95High") == []  # still pending
    steady(s.engine, 80, 90, ttft_s=0.5)
    events = s.step(90.0)
    assert states(events, "EnvelopeTtftP95High") == ["firing"]
    (alert,) = s.firing("EnvelopeTtftP95High")
    assert alert.active_at == 60.0 and alert.starts_at == 90.0
    assert alert.value == pytest.approx(0.5, rel=0.05) and alert.threshold == 0.2
    # the rolling window (60 s) forgets the slow streams
    steady(s.engine, 90, 160, ttft_s=0.05)
    assert states(s.step(160.0), "EnvelopeTtftP95High") == ["resolved"]


def test_a_condition_gone_before_for_s_never_fires() -> None:
    s = Scenario(ttft={"for_s": 30})
    steady(s.engine, 0, 60, ttft_s=0.5)
    assert states(s.step(60.0), "EnvelopeTtftP95High") == ["pending"]
    steady(s.engine, 60, 130, ttft_s=0.05)
    events = s.step(130.0)
    assert states(events, "EnvelopeTtftP95High") == ["inactive"]
    assert s.alerting.pending() == [] and s.alerting.firing() == []


def test_keep_firing_delays_resolution() -> None:
    s = Scenario(keep_firing_s=20)
    steady(s.engine, 0, 60, status=502)
    assert states(s.step(60.0), "EnvelopeAvailabilityBudgetBurn") == ["firing"]
    steady(s.engine, 60, 75)
    assert states(s.step(75.0), "EnvelopeAvailabilityBudgetBurn") == []  # gone for 15 s only
    steady(s.engine, 75, 95)
    assert states(s.step(95.0), "EnvelopeAvailabilityBudgetBurn") == ["resolved"]


def test_tenant_and_overall_cost_anomaly() -> None:
    s = Scenario()
    for t in range(0, 600, 10):  # $0.01 per 10 s: a baseline of $0.06 per minute
        s.engine.observe(obs(float(t), cost_usd=0.01, tenant="acme"))
        s.engine.observe(obs(float(t) + 1, cost_usd=0.01, tenant="calm"))
    assert s.step(599.0) == []
    for t in range(600, 660, 10):  # then $0.20 per 10 s: $1.20 in a minute, 20× the baseline
        s.engine.observe(obs(float(t), cost_usd=0.2, tenant="acme"))
        s.engine.observe(obs(float(t) + 1, cost_usd=0.01, tenant="calm"))
    events = s.step(659.0)
    assert states(events, "EnvelopeTenantCostAnomaly") == ["firing"]
    assert states(events, "EnvelopeCostAnomaly") == ["firing"]
    (tenant,) = s.firing("EnvelopeTenantCostAnomaly")
    assert tenant.label("tenant") == "acme" and tenant.label("route") is None
    assert tenant.value == pytest.approx(1.2) and tenant.threshold == pytest.approx(0.18)
    assert "$1.20" in (tenant.annotation("summary") or "")
    (overall,) = s.firing("EnvelopeCostAnomaly")
    assert overall.label("tenant") is None
    for t in range(660, 780, 10):  # back to normal; after a window the spike is out
        s.engine.observe(obs(float(t), cost_usd=0.01, tenant="acme"))
    events = s.step(779.0)
    assert states(events, "EnvelopeTenantCostAnomaly") == ["resolved"]
    assert states(events, "EnvelopeCostAnomaly") == ["resolved"]


def test_cost_anomaly_needs_history_and_spend() -> None:
    s = Scenario()
    for t in range(0, 200, 10):  # 200 s of history: under min_history_s (300 s)
        s.engine.observe(obs(float(t), cost_usd=0.01))
    for t in range(200, 260, 10):
        s.engine.observe(obs(float(t), cost_usd=1.0))
    assert states(s.step(259.0), "EnvelopeTenantCostAnomaly") == []
    idle = Scenario()
    for t in range(0, 600, 10):
        idle.engine.observe(obs(float(t), cost_usd=0.0001))
    for t in range(600, 660, 10):
        idle.engine.observe(obs(float(t), cost_usd=0.01))  # 100× but $0.06: under min_spend_usd
    assert idle.step(659.0) == []


def test_cache_hit_regression() -> None:
    s = Scenario()
    for i in range(300):  # 60 % hits for 5 minutes
        for j in range(5):
            s.engine.observe(obs(i + j / 10, cache_hit=j < 3, attempts=0 if j < 3 else 1))
    assert s.step(299.9) == []
    for i in range(300, 330):  # then 20 %
        for j in range(5):
            s.engine.observe(obs(i + j / 10, cache_hit=j < 1, attempts=0 if j < 1 else 1))
    events = s.step(329.9)
    assert states(events, "EnvelopeCacheHitRegression") == ["firing"]
    (alert,) = s.firing("EnvelopeCacheHitRegression")
    assert alert.value == pytest.approx(0.2)
    for i in range(330, 360):  # hits come back
        for j in range(5):
            s.engine.observe(obs(i + j / 10, cache_hit=j < 3, attempts=0 if j < 3 else 1))
    assert states(s.step(359.9), "EnvelopeCacheHitRegression") == ["resolved"]


def test_fallback_rate_and_retry_amplification() -> None:
    s = Scenario()
    for i in range(30):
        for j in range(4):  # one request in four served by a fallback, after 2 attempts
            s.engine.observe(obs(i + j / 8, fallback=j == 0, attempts=2 if j == 0 else 1))
    assert states(s.step(29.9), "EnvelopeFallbackRateHigh") == ["firing"]
    (fallback,) = s.firing("EnvelopeFallbackRateHigh")
    assert fallback.value == pytest.approx(0.25) and fallback.threshold == 0.1
    assert s.firing("EnvelopeRetryAmplification") == []  # 1.25 attempts per request
    for i in range(30, 60):
        for j in range(4):  # every request retried twice
            s.engine.observe(obs(i + j / 8, attempts=3))
    events = s.step(59.9)
    assert states(events, "EnvelopeFallbackRateHigh") == ["resolved"]
    assert states(events, "EnvelopeRetryAmplification") == ["firing"]
    (retry,) = s.firing("EnvelopeRetryAmplification")
    assert retry.value == pytest.approx(3.0)


def test_route_overrides_thresholds_and_silences() -> None:
    s = Scenario(route_slo={"fallback_rate": 0.5, "silence": ["EnvelopeRetryAmplification"]})
    for i in range(30):
        for j in range(4):
            s.engine.observe(obs(i + j / 8, fallback=j == 0, attempts=3))
    assert s.step(29.9) == []


def test_severity_and_windows_come_from_the_settings() -> None:
    s = Scenario(
        burn={
            "windows": [
                {"long_s": 60, "short_s": 10, "factor": 14.4, "severity": "page"},
                {"long_s": 300, "short_s": 60, "factor": 1, "severity": "ticket"},
            ]
        },
        runbook_base="https://runbooks.example/envelope",
    )
    steady(s.engine, 0, 240)
    steady(s.engine, 240, 300, status=502, latency_s=0.1)
    s.step(300.0)
    alerts = {a.label("window"): a for a in s.firing("EnvelopeAvailabilityBudgetBurn")}
    assert set(alerts) == {"1m/10s", "5m/1m"}
    assert alerts["5m/1m"].severity == "ticket" and alerts["1m/10s"].severity == "page"
    assert (
        alerts["5m/1m"].annotation("runbook_url") == "https://runbooks.example/envelope#EnvelopeAvailabilityBudgetBurn"
    )
