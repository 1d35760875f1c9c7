"""Builders for SLO tests: settings with windows in seconds, and observations."""

from __future__ import annotations

from typing import Any

from envelope.config.documents import LatencyTargets
from envelope.config.slo import BurnWindowDoc, RouteSloDoc, SloSettingsDoc
from envelope.slo.engine import SloEngine
from envelope.slo.objectives import RouteObjectives
from envelope.slo.observation import Observation


def settings(**overrides: Any) -> SloSettingsDoc:
    """Small windows: 1 s fine buckets for 10 min, 10 s coarse ones, a 1 h period;
    one burn pair (60 s / 10 s, 14.4×, page) unless `burn` is given."""
    document: dict[str, Any] = {
        "bucket_s": 1.0,
        "fine_horizon_s": 600.0,
        "coarse_bucket_s": 10.0,
        "quantile_horizon_s": 120.0,
        "period_s": 3600.0,
        "rolling_window_s": 60.0,
        "evaluation_interval_s": 1.0,
        "burn": {"windows": [{"long_s": 60, "short_s": 10, "factor": 14.4, "severity": "page"}], "min_events": 20},
        "ttft": {"min_requests": 5, "for_s": 0},
        "cost_anomaly": {
            "window_s": 60,
            "baseline_s": 600,
            "min_history_s": 300,
            "min_spend_usd": 0.5,
            "min_baseline_usd": 0.01,
            "for_s": 0,
        },
        "cache_regression": {"window_s": 30, "baseline_s": 300, "min_requests": 20, "for_s": 0},
        "fallback_rate": {"threshold": 0.1, "window_s": 30, "min_requests": 10, "for_s": 0},
        "retry_amplification": {"threshold": 1.5, "window_s": 30, "min_requests": 10, "for_s": 0},
        "sinks": [],
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(document.get(key), dict):
            document[key] = {**document[key], **value}
        else:
            document[key] = value
    return SloSettingsDoc.model_validate(document)


def objectives(
    route: str = "chat",
    *,
    p95_ms: float | None = 500,
    ttft_ms: float | None = 200,
    burn_windows: list[BurnWindowDoc] | None = None,
    **slo: Any,
) -> dict[str, RouteObjectives]:
    doc = RouteSloDoc(burn_windows=burn_windows, **slo)
    return {route: RouteObjectives.of(route, LatencyTargets(p95_ms=p95_ms, ttft_ms=ttft_ms), doc)}


def engine(**overrides: Any) -> SloEngine:
    return SloEngine(settings(**overrides), objectives())


def obs(ts: float, latency_s: float = 0.1, *, status: int = 200, **fields: Any) -> Observation:
    fields.setdefault("route", "chat")
    fields.setdefault("tenant", "acme")
    fields.setdefault("tier", None)
    return Observation.from_status(status, ts=ts, latency_s=latency_s, **fields)


def steady(target: SloEngine, start: float, end: float, *, per_s: int = 2, **fields: Any) -> None:
    """`per_s` observations every second in [start, end)."""
    t = start
    while t < end:
        for i in range(per_s):
            target.observe(obs(t + i / (per_s * 2), **fields))
        t += 1.0
