"""What one evaluation of the SLO engine found: frozen values, read by the alert rules,
the adaptive controller and the admin API."""

from __future__ import annotations

from dataclasses import dataclass

from envelope.slo.bins import Bins
from envelope.slo.objectives import Objective, RouteObjectives
from envelope.slo.window import Totals, Vector


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole > 0 else None


@dataclass(frozen=True, slots=True)
class WindowStats:
    """A stream's statistics over `window_s`. Quantiles (seconds) are None without
    requests, or for windows longer than the histograms are kept. Rates are per counted
    request (client errors excluded), attempts per request that went upstream."""

    window_s: float
    requests: int = 0
    count: int = 0
    p50_s: float | None = None
    p95_s: float | None = None
    p99_s: float | None = None
    ttft_count: int = 0
    ttft_p95_s: float | None = None
    error_rate: float | None = None
    cost_usd: float = 0.0
    cache_hit_rate: float | None = None
    fallback_rate: float | None = None
    attempts_per_request: float | None = None

    @classmethod
    def of(cls, window_s: float, totals: Totals, bins: Bins, histograms: tuple[Vector, Vector] | None) -> WindowStats:
        latency, ttft = histograms if histograms is not None else (None, None)
        return cls(
            window_s=window_s,
            requests=round(totals.requests),
            count=round(totals.counted),
            p50_s=None if latency is None else bins.quantile(latency, 0.50),
            p95_s=None if latency is None else bins.quantile(latency, 0.95),
            p99_s=None if latency is None else bins.quantile(latency, 0.99),
            ttft_count=0 if ttft is None else round(float(ttft.sum())),
            ttft_p95_s=None if ttft is None else bins.quantile(ttft, 0.95),
            error_rate=_share(totals.bad, totals.counted),
            cost_usd=totals.cost_usd,
            cache_hit_rate=_share(totals.cache_hits, totals.counted),
            fallback_rate=_share(totals.fallbacks, totals.counted),
            attempts_per_request=_share(totals.attempts, totals.upstream),
        )


@dataclass(frozen=True, slots=True)
class Burn:
    """The burn rate over one window (None without events) and the events it saw."""

    window_s: float
    rate: float | None
    events: float


@dataclass(frozen=True, slots=True)
class ObjectiveReport:
    """One objective of a route: its share of good events over the rolling window, the
    budget left over the SLO period, and burn rates over every alert window."""

    objective: Objective
    target: float
    threshold_s: float | None
    good_fraction: float | None
    budget_remaining: float
    period_events: float
    burns: tuple[Burn, ...]

    def burn(self, window_s: float) -> Burn | None:
        for burn in self.burns:
            if burn.window_s == window_s:
                return burn
        return None


@dataclass(frozen=True, slots=True)
class Rate:
    """A per-request rate over a window (None without requests) and its request count."""

    window_s: float
    value: float | None
    requests: float


@dataclass(frozen=True, slots=True)
class RouteReport:
    route: str
    targets: RouteObjectives
    rolling: WindowStats
    objectives: tuple[ObjectiveReport, ...]
    cache_recent: Rate
    cache_baseline: Rate
    fallback: Rate
    attempts: Rate
    tiers: tuple[tuple[str, WindowStats], ...] = ()

    def objective(self, name: Objective) -> ObjectiveReport | None:
        for report in self.objectives:
            if report.objective == name:
                return report
        return None

    def tier(self, name: str) -> WindowStats | None:
        """The rolling statistics of the route's traffic served from tier `name`."""
        for tier, stats in self.tiers:
            if tier == name:
                return stats
        return None


@dataclass(frozen=True, slots=True)
class SpendReport:
    """Spend of a tenant (None: all tenants) over `window_s`, and its baseline: the mean
    spend per `window_s` over the `history_s` before it."""

    tenant: str | None
    window_s: float
    spent_usd: float
    baseline_usd: float
    history_s: float


@dataclass(frozen=True, slots=True)
class Report:
    at: float
    window_s: float
    routes: tuple[RouteReport, ...]
    spend: tuple[SpendReport, ...]

    def route(self, name: str) -> RouteReport | None:
        for report in self.routes:
            if report.route == name:
                return report
        return None
