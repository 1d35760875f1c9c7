"""The operations view: error rate and latency percentiles over time, per-route latency
against targets, limit utilisation, firing alerts, and the downgrade timeline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from envelope.config.documents import RouteDoc
from envelope.dashboard.figures import Figures, TimeSeries, error_rate, percentile_ms, requests, time_series
from envelope.dashboard.limits import Rejection, Utilisation
from envelope.dashboard.window import Window
from envelope.ledger.rollup import Totals, by_group, combine
from envelope.slo.alerts import Alert
from envelope.store.records import TransitionRecord

LEVELLED = ("latency", "spend")  # transitions between levels; a canary rollback is a single event


@dataclass(frozen=True, slots=True)
class RouteLatency:
    route: str
    figures: Figures
    p50_target_ms: float | None
    p95_target_ms: float | None
    p99_target_ms: float | None


@dataclass(frozen=True, slots=True)
class AlertLine:
    name: str
    severity: str
    labels: dict[str, str]
    summary: str | None
    value: float
    threshold: float
    since: float | None  # when it fired


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of time a scope (`route:NAME`, `tenant:NAME`, `experiment:...`) spent
    below its normal level; `end` None: still down."""

    scope: str
    kind: str
    level: int
    start: float
    end: float | None
    reason: str


@dataclass(frozen=True, slots=True)
class Mark:
    ts: float
    scope: str
    kind: str
    direction: str
    from_level: int
    to_level: int
    reason: str


@dataclass(frozen=True, slots=True)
class Operations:
    window: str
    generated_at: float
    start: float  # of the window: the timeline's left edge
    figures: Figures
    series: TimeSeries  # requests, error_rate, p50_ms, p95_ms, p99_ms per bucket
    routes: list[RouteLatency]
    utilisation: list[Utilisation]
    rejections: list[Rejection]
    alerts: list[AlertLine]
    spans: list[Span]
    transitions: list[Mark]
    levels: dict[str, int]


def alert_line(alert: Alert) -> AlertLine:
    labels = {k: v for k, v in alert.labels if k not in ("alertname", "severity")}
    return AlertLine(
        alert.name, alert.severity, labels, alert.annotation("summary"), alert.value, alert.threshold, alert.starts_at
    )


def spans(transitions: Sequence[TransitionRecord], *, since: float, down_now: Mapping[str, int]) -> list[Span]:
    """Stretches below the normal level from the `LEVELLED` `transitions` (oldest first) after `since`.
    A scope whose first transition starts from a lower level was already down at `since`;
    a scope down now (`down_now`: scope → level) with no transition since was down all along."""
    found: list[Span] = []
    open_: dict[str, Span] = {}
    seen: set[str] = set()
    for t in transitions:
        if t.ts < since or t.kind not in LEVELLED:
            continue
        if t.scope not in seen and t.from_level > 0:
            open_[t.scope] = Span(t.scope, t.kind, t.from_level, since, None, "down before the window")
        seen.add(t.scope)
        current = open_.pop(t.scope, None)
        if current is not None:
            found.append(Span(current.scope, current.kind, current.level, current.start, t.ts, current.reason))
        if t.to_level > 0:
            open_[t.scope] = Span(t.scope, t.kind, t.to_level, t.ts, None, t.reason)
    for scope, level in down_now.items():
        if level > 0 and scope not in seen:
            open_[scope] = Span(scope, "latency" if scope.startswith("route:") else "spend", level, since, None, "")
    found.extend(open_.values())
    return sorted(found, key=lambda s: (s.scope, s.start))


def _mark(t: TransitionRecord) -> Mark:
    return Mark(t.ts, t.scope, t.kind, t.direction, t.from_level, t.to_level, t.reason)


def operations(
    *,
    window: Window,
    now: float,
    routes: Sequence[RouteDoc],
    buckets: Sequence[Totals],
    per_route: Sequence[Totals],
    utilisation: list[Utilisation],
    rejections: list[Rejection],
    alerts: Sequence[Alert],
    transitions: Sequence[TransitionRecord],
    levels: Mapping[str, int],
    economy: frozenset[str] = frozenset(),
) -> Operations:
    """The view from rollups over the window (`buckets` by time, `per_route`), the limits'
    figures, the alerts firing, the control transitions of the window and the levels now."""
    since = window.since(now)
    routed = by_group(per_route)
    down_now = {f"route:{name}": level for name, level in levels.items()} | {f"tenant:{t}": 1 for t in economy}
    measures = {
        "requests": requests,
        "error_rate": error_rate,
        "p50_ms": percentile_ms(0.50),
        "p95_ms": percentile_ms(0.95),
        "p99_ms": percentile_ms(0.99),
    }
    return Operations(
        window=window.name,
        generated_at=now,
        start=since,
        figures=Figures.of(combine(buckets)),
        series=time_series(window.starts(now), window.bucket_s, buckets, measures),
        routes=[
            RouteLatency(
                r.name, Figures.of(routed.get(r.name, Totals())), r.latency.p50_ms, r.latency.p95_ms, r.latency.p99_ms
            )
            for r in routes
        ],
        utilisation=utilisation,
        rejections=rejections,
        alerts=sorted((alert_line(a) for a in alerts), key=lambda a: (a.severity != "page", a.name)),
        spans=spans(transitions, since=since, down_now=down_now),
        transitions=[_mark(t) for t in transitions if t.ts >= since],
        levels=dict(levels),
    )
