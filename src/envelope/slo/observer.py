"""The gateway's side of the SLO engine: every finished request becomes an `Observation`
(account finisher), its verdicts are counted in `envelope_slo_events_total` (so the
shipped Prometheus rules and the engine judge alike), and the engine is kept in step
with the active config."""

from __future__ import annotations

from typing import Any

from envelope.config.documents import ConfigSet
from envelope.pipeline.context import RequestContext
from envelope.slo.engine import SloEngine
from envelope.slo.objectives import OBJECTIVES, RouteObjectives
from envelope.slo.observation import Observation
from envelope.telemetry.metrics import Metrics

_FALLBACKS = ("model_fallback:", "rerouted:")


def objectives_of(config: ConfigSet) -> dict[str, RouteObjectives]:
    return {r.name: RouteObjectives.of(r.name, r.latency, r.slo) for r in config.routes}


class SloObserver:
    def __init__(self, engine: SloEngine, metrics: Metrics) -> None:
        self._engine = engine
        self._metrics = metrics
        self._events: dict[tuple[str, str, bool], Any] = {}
        self._attempts: dict[str, Any] = {}

    def configure(self, config: ConfigSet) -> None:
        objectives = objectives_of(config)
        self._engine.reconfigure(objectives)
        for route, targets in objectives.items():
            for objective in OBJECTIVES:
                if targets.has(objective):
                    self._metrics.slo_objective.labels(route, objective).set(targets.target(objective))

    def observe(self, ctx: RequestContext) -> None:
        if ctx.route is None:
            return  # refused before a route was known: nobody's objective
        route = ctx.route_name
        verdicts = self._engine.observe(
            Observation.from_status(
                ctx.status,
                route=route,
                tenant=ctx.tenant,
                tier=ctx.model.doc.tier if ctx.model else None,
                ts=ctx.started_wall,
                latency_s=ctx.latency_ms / 1000.0,
                ttft_s=ctx.ttft_ms / 1000.0 if ctx.stream and ctx.ttft_ms is not None else None,
                cost_usd=ctx.cost_usd,
                cache_hit=ctx.cache_hit,
                fallback=any(d.startswith(_FALLBACKS) for d in ctx.degradations),
                attempts=ctx.attempts,
            )
        )
        for objective, good in zip(OBJECTIVES, verdicts, strict=True):
            if good is not None:
                self._count(route, objective, good)
        if ctx.attempts:
            counter = self._attempts.get(route)
            if counter is None:
                counter = self._attempts[route] = self._metrics.upstream_attempts.labels(route)
            counter.inc(ctx.attempts)

    def _count(self, route: str, objective: str, good: bool) -> None:
        key = (route, objective, good)
        counter = self._events.get(key)
        if counter is None:
            counter = self._events[key] = self._metrics.slo_events.labels(route, objective, "good" if good else "bad")
        counter.inc()
