"""The operations view: downgrade spans from control transitions, alerts, per-route latency."""

from __future__ import annotations

from envelope.config.documents import LatencyTargets, RouteDoc
from envelope.dashboard.operations import Span, operations, spans
from envelope.dashboard.window import window_named
from envelope.store.records import TransitionRecord
from tests.dashboard.lines import line
from tests.dashboard.test_executive import alert


def moved(ts: float, scope: str, from_level: int, to_level: int, kind: str = "latency") -> TransitionRecord:
    direction = "down" if to_level > from_level else "up"
    return TransitionRecord(
        ts, scope, kind, direction, from_level, to_level, f"{from_level}->{to_level}", None, None, None
    )


def test_a_downgrade_and_its_recovery_make_one_span() -> None:
    found = spans([moved(100, "route:a", 0, 1), moved(160, "route:a", 1, 0)], since=50, down_now={})
    assert found == [Span("route:a", "latency", 1, 100, 160, "0->1")]


def test_spans_open_before_the_window_or_still_open() -> None:
    found = spans([moved(100, "route:a", 1, 0), moved(120, "route:b", 0, 1)], since=50, down_now={"route:b": 1})
    assert [(s.scope, s.start, s.end) for s in found] == [("route:a", 50, 100), ("route:b", 120, None)]
    quiet = spans([], since=50, down_now={"route:c": 2, "route:d": 0, "tenant:acme": 1})
    assert [(s.scope, s.kind, s.level, s.start, s.end) for s in quiet] == [
        ("route:c", "latency", 2, 50, None),
        ("tenant:acme", "spend", 1, 50, None),
    ]


def test_a_deeper_downgrade_starts_a_new_span_and_canaries_make_none() -> None:
    found = spans(
        [
            moved(40, "route:a", 0, 1),  # before the window: ignored
            moved(100, "route:a", 1, 2),
            moved(130, "route:a", 2, 0),
            moved(140, "experiment:a/x", 1, 0, kind="canary"),
        ],
        since=50,
        down_now={},
    )
    assert [(s.level, s.start, s.end) for s in found] == [(1, 50, 100), (2, 100, 130)]


def test_the_view() -> None:
    hour = window_named("1h")
    now = 7200.0
    found = operations(
        window=hour,
        now=now,
        routes=[RouteDoc(name="a", latency=LatencyTargets(p95_ms=200, p99_ms=900))],
        buckets=[line(bucket=7140, requests=3, ms=300, errors=1), line(bucket=7200, requests=1, ms=20)],
        per_route=[line("a", requests=4, ms=100)],
        utilisation=[],
        rejections=[],
        alerts=[alert("a", "ticket"), alert("a", "page")],
        transitions=[moved(3000, "route:a", 0, 1), moved(6000, "route:a", 0, 1)],
        levels={"a": 1},
    )
    assert found.start == 3660 and found.figures.requests == 4 and found.figures.errors == 1
    assert found.series.get("error_rate").values[-2:] == [1 / 3, 0.0]
    assert found.routes[0].p95_target_ms == 200 and found.routes[0].p99_target_ms == 900
    assert [a.severity for a in found.alerts] == ["page", "ticket"]
    assert found.alerts[0].labels == {"route": "a"} and found.alerts[0].since == alert("a").starts_at
    assert [t.ts for t in found.transitions] == [6000] and found.levels == {"a": 1}
    assert [(s.start, s.end) for s in found.spans] == [(6000, None)]
