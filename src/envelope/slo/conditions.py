"""The alert rules: pure functions from a `Report` to the conditions that hold now.

Each condition names its alert (`AlertName`, the runbook anchor), its identifying
labels (route or tenant, and for burn rates the objective and window pair), its
severity, the measured value against its threshold, and how long it must hold
(`for_s`) before the alert fires. `alerts.py` turns them into alert transitions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from envelope.config.slo import AlertName, BurnWindowDoc, Severity, SloSettingsDoc
from envelope.slo.objectives import Objective
from envelope.slo.report import Rate, Report, RouteReport, SpendReport

Labels = tuple[tuple[str, str], ...]

BURN_ALERTS: tuple[tuple[Objective, AlertName], ...] = (
    ("latency", "EnvelopeLatencyBudgetBurn"),
    ("availability", "EnvelopeAvailabilityBudgetBurn"),
)


@dataclass(frozen=True, slots=True)
class Condition:
    name: AlertName
    subject: Labels  # the labels that tell this alert from others of its name (route, tenant, ...)
    severity: Severity
    value: float
    threshold: float
    summary: str
    for_s: float

    @property
    def labels(self) -> Labels:
        """alertname, the subject's labels, severity: the alert's identity."""
        return (("alertname", self.name), *self.subject, ("severity", self.severity))


def duration(seconds: float) -> str:
    """`3600` → `1h`, `300` → `5m`, `259200` → `3d`, `1.5` → `1.5s` (Prometheus style)."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def conditions(report: Report, settings: SloSettingsDoc) -> list[Condition]:
    """Every condition holding in `report`."""
    found: list[Condition] = []
    for route in report.routes:
        silenced = set(route.targets.slo.silence)
        found.extend(c for c in _route_conditions(route, settings) if c.name not in silenced)
    found.extend(_cost(spend, settings) for spend in report.spend if _cost_holds(spend, settings))
    return found


def _route_conditions(route: RouteReport, settings: SloSettingsDoc) -> Iterator[Condition]:
    yield from _burns(route, settings)
    ttft = _ttft(route, settings)
    if ttft is not None:
        yield ttft
    cache = _cache(route, settings)
    if cache is not None:
        yield cache
    slo = route.targets.slo
    fallback = settings.fallback_rate
    threshold = slo.fallback_rate if slo.fallback_rate is not None else fallback.threshold
    if fallback.enabled and _over(route.fallback, threshold, fallback.min_requests):
        yield Condition(
            name="EnvelopeFallbackRateHigh",
            subject=(("route", route.route),),
            severity=fallback.severity,
            value=_value(route.fallback),
            threshold=threshold,
            summary=f"route {route.route}: {_value(route.fallback):.1%} of requests served by a fallback model "
            f"over {duration(fallback.window_s)} (threshold {threshold:.1%})",
            for_s=fallback.for_s,
        )
    retry = settings.retry_amplification
    threshold = slo.retry_amplification if slo.retry_amplification is not None else retry.threshold
    if retry.enabled and _over(route.attempts, threshold, retry.min_requests):
        yield Condition(
            name="EnvelopeRetryAmplification",
            subject=(("route", route.route),),
            severity=retry.severity,
            value=_value(route.attempts),
            threshold=threshold,
            summary=f"route {route.route}: {_value(route.attempts):.2f} upstream attempts per upstream request "
            f"over {duration(retry.window_s)} (threshold {threshold:.2f})",
            for_s=retry.for_s,
        )


def _value(rate: Rate) -> float:
    return rate.value if rate.value is not None else 0.0


def _over(rate: Rate, threshold: float, min_requests: int) -> bool:
    return rate.value is not None and rate.requests >= min_requests and rate.value > threshold


def _burns(route: RouteReport, settings: SloSettingsDoc) -> Iterator[Condition]:
    pairs = route.targets.slo.burn_windows
    for objective, name in BURN_ALERTS:
        found = route.objective(objective)
        if found is None:
            continue
        for pair in pairs if pairs is not None else settings.burn.windows:
            long, short = found.burn(pair.long_s), found.burn(pair.short_s)
            if long is None or short is None or long.rate is None or short.rate is None:
                continue
            if long.events < settings.burn.min_events:
                continue
            if long.rate >= pair.factor and short.rate >= pair.factor:
                yield _burn(route.route, objective, name, pair, long.rate, short.rate, settings)


def _burn(
    route: str,
    objective: Objective,
    name: AlertName,
    pair: BurnWindowDoc,
    long: float,
    short: float,
    settings: SloSettingsDoc,
) -> Condition:
    window = f"{duration(pair.long_s)}/{duration(pair.short_s)}"
    spent = long * pair.long_s / settings.period_s
    return Condition(
        name=name,
        subject=(("route", route), ("objective", objective), ("window", window)),
        severity=pair.severity,
        value=long,
        threshold=pair.factor,
        summary=f"route {route}: {objective} error budget burning {long:.1f}× over {duration(pair.long_s)} "
        f"and {short:.1f}× over {duration(pair.short_s)} (threshold {pair.factor:g}×; "
        f"{spent:.1%} of the {duration(settings.period_s)} budget spent in {duration(pair.long_s)})",
        for_s=settings.burn.for_s,
    )


def _ttft(route: RouteReport, settings: SloSettingsDoc) -> Condition | None:
    rule = settings.ttft
    target, p95 = route.targets.ttft_s, route.rolling.ttft_p95_s
    if not rule.enabled or target is None or p95 is None or route.rolling.ttft_count < rule.min_requests:
        return None
    if p95 <= target:
        return None
    return Condition(
        name="EnvelopeTtftP95High",
        subject=(("route", route.route),),
        severity=rule.severity,
        value=p95,
        threshold=target,
        summary=f"route {route.route}: TTFT p95 {p95 * 1000:.0f} ms over {duration(route.rolling.window_s)} "
        f"(target {target * 1000:.0f} ms)",
        for_s=rule.for_s,
    )


def _cache(route: RouteReport, settings: SloSettingsDoc) -> Condition | None:
    rule = settings.cache_regression
    recent, baseline = route.cache_recent, route.cache_baseline
    drop = route.targets.slo.cache_drop if route.targets.slo.cache_drop is not None else rule.drop
    if not rule.enabled or recent.value is None or baseline.value is None or recent.requests < rule.min_requests:
        return None
    floor = (1.0 - drop) * baseline.value
    if baseline.value < rule.min_baseline_rate or recent.value >= floor:
        return None
    return Condition(
        name="EnvelopeCacheHitRegression",
        subject=(("route", route.route),),
        severity=rule.severity,
        value=recent.value,
        threshold=floor,
        summary=f"route {route.route}: cache hit rate {recent.value:.1%} over {duration(recent.window_s)}, "
        f"against {baseline.value:.1%} over {duration(baseline.window_s)} (alerts below {floor:.1%})",
        for_s=rule.for_s,
    )


def _cost_holds(spend: SpendReport, settings: SloSettingsDoc) -> bool:
    rule = settings.cost_anomaly
    return (
        rule.enabled
        and spend.history_s >= rule.min_history_s
        and spend.baseline_usd >= rule.min_baseline_usd
        and spend.spent_usd >= rule.min_spend_usd
        and spend.spent_usd > rule.factor * spend.baseline_usd
    )


def _cost(spend: SpendReport, settings: SloSettingsDoc) -> Condition:
    rule = settings.cost_anomaly
    who = "all tenants" if spend.tenant is None else f"tenant {spend.tenant}"
    window = duration(spend.window_s)
    return Condition(
        name="EnvelopeCostAnomaly" if spend.tenant is None else "EnvelopeTenantCostAnomaly",
        subject=() if spend.tenant is None else (("tenant", spend.tenant),),
        severity=rule.severity,
        value=spend.spent_usd,
        threshold=rule.factor * spend.baseline_usd,
        summary=f"{who}: ${spend.spent_usd:.2f} spent in the last {window}, "
        f"{spend.spent_usd / spend.baseline_usd:.1f}× the baseline of ${spend.baseline_usd:.2f} per {window} "
        f"(threshold {rule.factor:g}×)",
        for_s=rule.for_s,
    )
