"""The executive view: is each route healthy, and is each tenant's spend within budget."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from envelope.config.documents import RouteDoc, TenantDoc
from envelope.core.admission import period_name
from envelope.cost.forecast import Forecast
from envelope.dashboard.figures import Figures, TimeSeries, requests, time_series
from envelope.dashboard.window import Window
from envelope.ledger.rollup import Totals, by_group, combine
from envelope.slo.alerts import Alert
from envelope.slo.report import Report, RouteReport

Status = Literal["idle", "ok", "degraded", "critical"]
_RANK: dict[Status, int] = {"idle": 0, "ok": 0, "degraded": 1, "critical": 2}
BudgetStatus = Literal["ok", "at_risk", "soft", "over"]


@dataclass(frozen=True, slots=True)
class ObjectiveState:
    objective: str
    target: float
    good_fraction: float | None
    budget_remaining: float


@dataclass(frozen=True, slots=True)
class RouteHealth:
    """A route's status, why, and its figures over the window. `critical`: a page alert
    fires; `degraded`: another alert fires, adaptive control serves it from a lower tier,
    or an objective's error budget is spent; `idle`: nothing of that and no requests."""

    route: str
    status: Status
    reasons: list[str]
    figures: Figures
    p95_target_ms: float | None
    level: int
    objectives: list[ObjectiveState]


@dataclass(frozen=True, slots=True)
class BudgetLine:
    """Spend of the budget period so far (ledger), and its forecast to the period's end."""

    period: str
    start: float
    end: float
    spent_usd: float
    projected_usd: float | None
    soft_usd: float | None
    hard_usd: float | None
    used: float | None  # spent / hard (else soft) budget
    status: BudgetStatus
    economy: bool  # adaptive control has put the tenant in economy mode


@dataclass(frozen=True, slots=True)
class TenantSpend:
    tenant: str
    window_usd: float
    requests: int
    budget: BudgetLine | None


@dataclass(frozen=True, slots=True)
class Executive:
    window: str
    generated_at: float
    status: Status
    figures: Figures
    alerts_firing: int
    routes: list[RouteHealth]
    tenants: list[TenantSpend]
    series: TimeSeries  # requests, errors, cost_usd per bucket


def _route_alerts(alerts: Sequence[Alert], route: str) -> list[Alert]:
    return [a for a in alerts if a.label("route") == route]


def _objectives(report: RouteReport | None) -> list[ObjectiveState]:
    if report is None:
        return []
    return [
        ObjectiveState(o.objective, o.target, o.good_fraction, o.budget_remaining)
        for o in report.objectives
        if o.period_events > 0
    ]


def _worse(a: Status, b: Status) -> Status:
    return a if _RANK[a] >= _RANK[b] else b


def route_health(
    route: RouteDoc, totals: Totals, report: RouteReport | None, alerts: Sequence[Alert], level: int
) -> RouteHealth:
    status: Status = "ok"
    reasons: list[str] = []
    for alert in _route_alerts(alerts, route.name):
        status = _worse(status, "critical" if alert.severity == "page" else "degraded")
        reasons.append(alert.annotation("summary") or alert.name)
    if level > 0:
        status = _worse(status, "degraded")
        reasons.append(f"served {level} tier{'s' if level > 1 else ''} down by adaptive control")
    objectives = _objectives(report)
    for objective in objectives:
        if objective.budget_remaining <= 0:
            status = _worse(status, "degraded")
            reasons.append(f"{objective.objective} error budget spent")
    if not reasons and totals.requests == 0:
        status = "idle"
    return RouteHealth(
        route=route.name,
        status=status,
        reasons=reasons,
        figures=Figures.of(totals),
        p95_target_ms=route.latency.p95_ms,
        level=level,
        objectives=objectives,
    )


def budget_line(tenant: TenantDoc, found: Forecast | None, *, economy: bool = False) -> BudgetLine | None:
    """The tenant's budget against its forecast (`cost/forecast.py`: spend so far this
    period, projected to its end); None without a budget."""
    budget = tenant.budget
    if budget is None or found is None:
        return None
    spent = found.spent_usd
    limit = budget.hard_usd if budget.hard_usd is not None else budget.soft_usd
    status: BudgetStatus = found.status  # ok or at_risk: as projected to the limit
    if budget.hard_usd is not None and spent >= budget.hard_usd:
        status = "over"
    elif budget.soft_usd is not None and spent >= budget.soft_usd:
        status = "soft"  # past the soft limit (the only one, or short of the hard one)
    return BudgetLine(
        period=period_name(budget),
        start=found.period_start,
        end=found.period_end,
        spent_usd=spent,
        projected_usd=found.projected_usd,
        soft_usd=budget.soft_usd,
        hard_usd=budget.hard_usd,
        used=spent / limit if limit else None,
        status=status,
        economy=economy,
    )


def executive(
    *,
    window: Window,
    now: float,
    routes: Sequence[RouteDoc],
    tenants: Sequence[TenantDoc],
    buckets: Sequence[Totals],
    per_route: Sequence[Totals],
    per_tenant: Sequence[Totals],
    forecasts: Mapping[str, Forecast],
    report: Report | None,
    alerts: Sequence[Alert],
    levels: Mapping[str, int],
    economy: frozenset[str] = frozenset(),
) -> Executive:
    """The view from rollups over the window (`buckets` by time, `per_route`, `per_tenant`),
    each budgeted tenant's forecast, and the SLO engine's last report."""
    routed = by_group(per_route)
    health = [
        route_health(
            r, routed.get(r.name, Totals()), report.route(r.name) if report else None, alerts, levels.get(r.name, 0)
        )
        for r in routes
    ]
    spent = by_group(per_tenant)
    lines = [
        TenantSpend(
            tenant=t.name,
            window_usd=spent[t.name].cost_usd if t.name in spent else 0.0,
            requests=spent[t.name].requests if t.name in spent else 0,
            budget=budget_line(t, forecasts.get(t.name), economy=t.name in economy),
        )
        for t in tenants
    ]
    worst: Status = max((h.status for h in health), key=lambda s: _RANK[s], default="ok")
    series = time_series(
        window.starts(now),
        window.bucket_s,
        buckets,
        {"requests": requests, "errors": lambda t: float(t.errors), "cost_usd": lambda t: t.cost_usd},
    )
    return Executive(
        window=window.name,
        generated_at=now,
        status="ok" if worst == "idle" else worst,
        figures=Figures.of(combine(buckets)),
        alerts_firing=len(alerts),
        routes=health,
        tenants=lines,
        series=series,
    )
