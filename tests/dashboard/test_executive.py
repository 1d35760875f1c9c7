"""The executive view's decisions: a route's health and a tenant's spend against budget."""

from __future__ import annotations

import pytest

from envelope.config.documents import BudgetDoc, LatencyTargets, RouteDoc, TenantDoc
from envelope.core.admission import period_bounds
from envelope.cost.forecast import Forecast, forecast
from envelope.dashboard.executive import budget_line, executive, route_health
from envelope.dashboard.window import window_named
from envelope.ledger.rollup import Totals
from envelope.slo.alerts import Alert
from envelope.slo.objectives import RouteObjectives
from envelope.slo.report import ObjectiveReport, Rate, Report, RouteReport, WindowStats
from tests.dashboard.lines import line

ROUTE = RouteDoc(name="chat", latency=LatencyTargets(p95_ms=150))
DAY = 86400.0
NOON = 1_700_000_000 - 1_700_000_000 % DAY + DAY / 2  # 12:00 UTC


def alert(route: str, severity: str = "page") -> Alert:
    return Alert(
        name="EnvelopeLatencyBudgetBurn",
        severity=severity,  # type: ignore[arg-type]
        labels=(("alertname", "EnvelopeLatencyBudgetBurn"), ("route", route), ("severity", severity)),
        annotations=(("summary", f"route {route}: latency budget burning"),),
        value=20.0,
        threshold=14.4,
        active_at=NOON - 60,
        starts_at=NOON - 30,
    )


def report(budget_remaining: float) -> RouteReport:
    rate = Rate(300.0, None, 0.0)
    objective = ObjectiveReport("latency", 0.9, 0.15, 0.8, budget_remaining, 100.0, ())
    return RouteReport("chat", RouteObjectives("chat"), WindowStats(300.0), (objective,), rate, rate, rate, rate)


def test_a_route_without_requests_or_trouble_is_idle() -> None:
    assert route_health(ROUTE, Totals(), None, [], 0).status == "idle"
    busy = route_health(ROUTE, line("chat", requests=5), None, [], 0)
    assert busy.status == "ok" and busy.reasons == [] and busy.figures.requests == 5 and busy.p95_target_ms == 150


def test_alerts_control_and_spent_budgets_make_a_route_unhealthy() -> None:
    assert route_health(ROUTE, Totals(), None, [alert("chat")], 0).status == "critical"
    ticket = route_health(ROUTE, Totals(), None, [alert("chat", "ticket"), alert("other")], 0)
    assert ticket.status == "degraded" and ticket.reasons == ["route chat: latency budget burning"]
    down = route_health(ROUTE, line("chat"), None, [], 2)
    assert down.status == "degraded" and down.reasons == ["served 2 tiers down by adaptive control"]
    spent = route_health(ROUTE, line("chat"), report(-0.5), [], 0)
    assert spent.status == "degraded" and spent.reasons == ["latency error budget spent"]
    assert spent.objectives[0].good_fraction == 0.8
    assert route_health(ROUTE, line("chat"), report(0.4), [alert("chat")], 1).status == "critical"


def spent(tenant: TenantDoc, usd: float, now: float, hourly: float | None = None) -> Forecast | None:
    """The forecast of `tenant` having spent `usd` by `now`, at `hourly` USD an hour over
    the last six hours (by default, evenly since the period began)."""
    if tenant.budget is None:
        return None
    start = period_bounds(tenant.budget, now)[0]
    rate = usd / (now - start) * 3600 if hourly is None else hourly
    hours = [now - now % 3600 - 3600 * back for back in range(1, 7)]
    points = [(h, rate) for h in hours if h >= start] + [(now - now % 3600, rate * (now % 3600) / 3600)]
    return forecast(tenant.budget, spent=usd, points=points, now=now)


def test_spend_is_read_against_the_budget_with_its_forecast() -> None:
    tenant = TenantDoc(name="acme", budget=BudgetDoc(period="daily", hard_usd=10.0, soft_usd=6.0))
    half = budget_line(tenant, spent(tenant, 4.0, NOON))
    assert half is not None
    assert (half.start, half.end) == (NOON - DAY / 2, NOON + DAY / 2) and half.period == "daily"
    assert half.projected_usd == pytest.approx(8.0) and half.used == pytest.approx(0.4) and half.status == "ok"
    statuses = {usd: getattr(budget_line(tenant, spent(tenant, usd, NOON)), "status", None) for usd in (5.5, 6.0)}
    assert statuses == {5.5: "at_risk", 6.0: "soft"}  # 5.5 by noon heads for 11 of 10
    rushed = budget_line(tenant, spent(tenant, 3.0, NOON, hourly=0.6))
    assert rushed is not None and rushed.status == "at_risk"  # 3 by noon, but at 0.6 an hour now: 10.2
    assert rushed.projected_usd == pytest.approx(3.0 + 12 * 0.6)
    over = budget_line(tenant, spent(tenant, 10.0, NOON), economy=True)
    assert over is not None and over.status == "over" and over.economy
    assert budget_line(TenantDoc(name="free"), None) is None


def test_a_soft_only_budget_over_custom_periods() -> None:
    tenant = TenantDoc(name="acme", budget=BudgetDoc(period_seconds=3600, soft_usd=2.0))
    found = budget_line(tenant, forecast(tenant.budget, spent=1.0, points=[], now=7200 + 1800))  # type: ignore[arg-type]
    assert found is not None and found.period == "3600 s" and found.hard_usd is None
    assert (found.start, found.end) == (7200, 10800)
    assert found.used == 0.5 and found.projected_usd == pytest.approx(1.0) and found.status == "ok"  # no pace known
    soft = budget_line(tenant, forecast(tenant.budget, spent=2.5, points=[], now=9000))  # type: ignore[arg-type]
    assert soft is not None and soft.status == "soft"  # a soft limit is never "over"


def test_the_view_is_as_unhealthy_as_its_worst_route() -> None:
    hour = window_named("1h")
    routes = [ROUTE, RouteDoc(name="quiet")]
    tenants = [TenantDoc(name="acme", budget=BudgetDoc(hard_usd=100.0)), TenantDoc(name="beta")]
    found = executive(
        window=hour,
        now=NOON,
        routes=routes,
        tenants=tenants,
        buckets=[line(bucket=NOON - 60, requests=3, cost_usd=0.3), line(bucket=NOON - NOON % 60, cost_usd=0.1)],
        per_route=[line("chat", requests=4)],
        per_tenant=[line("acme", requests=3, cost_usd=0.3), line("beta", cost_usd=0.1)],
        forecasts={"acme": forecast(BudgetDoc(hard_usd=100.0), spent=12.0, points=[], now=NOON)},
        report=Report(NOON, 300.0, (report(-1.0),), ()),
        alerts=[],
        levels={"chat": 0},
    )
    assert found.status == "degraded" and [r.status for r in found.routes] == ["degraded", "idle"]
    assert found.figures.requests == 4 and found.figures.cost_usd == pytest.approx(0.4)
    assert found.series.get("requests").values[-2:] == [3.0, 1.0] and len(found.series.t) == 60
    acme, beta = found.tenants
    assert acme.budget is not None and acme.budget.spent_usd == 12.0 and acme.window_usd == pytest.approx(0.3)
    assert beta.budget is None and beta.requests == 1
