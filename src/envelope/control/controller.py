"""Adaptive control, the shell: measures each controlled route's latency, steps the pure
state machine of `core/control.py` every `interval_s`, and applies the levels to requests
in the decide stage; watches tenants' spend against their budgets for economy.

Every transition is logged, counted in metrics and written to the store's transition
log (`control_transitions`); requests served below their tier say so in their
degradations (`slo_downgrade:M->S`, `budget_economy:M->S`), hence in the ledger.

Each replica controls on what it sees itself (its own requests): replicas of one
fleet see the same slow upstream, so they reach the same decision within a window.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from envelope.admission.ports import AdmissionStore
from envelope.cache.ports import STORE_ERRORS
from envelope.config.control import AdaptiveDoc, ControlDoc
from envelope.config.documents import ConfigSet, TenantDoc
from envelope.control.recent import Recent
from envelope.control.transitions import TransitionLog, store
from envelope.core.admission import budget_key, period_bounds
from envelope.core.control import Measured, RouteState, Transition, economy, is_probe, step
from envelope.core.rules import Routing, clamp, shift
from envelope.pipeline.context import RequestContext
from envelope.store.records import TransitionRecord
from envelope.telemetry.metrics import Metrics
from envelope.ticker import Ticker

log = logging.getLogger("envelope.control")


@dataclass(slots=True)
class _Route:
    doc: AdaptiveDoc
    target_ms: float
    state: RouteState
    served: Recent
    nominal: Recent


class Controller:
    def __init__(
        self,
        settings: ControlDoc,
        metrics: Metrics,
        admission: AdmissionStore,
        *,
        log_transition: TransitionLog | None = None,
        clock: Callable[[], float] = time.time,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._admission = admission
        self._log_transition = log_transition
        self._clock = clock
        self._draw = draw
        self._routes: dict[str, _Route] = {}
        self._tenants: dict[str, TenantDoc] = {}
        self._economy: set[str] = set()
        self._ticker = Ticker("adaptive-control", settings.interval_s, self.evaluate)
        self._last_evaluation: float | None = None

    # --- configuration -----------------------------------------------------------

    def configure(self, config: ConfigSet) -> None:
        """Control the routes of `config` that ask for it; a route that stays keeps its state."""
        routes: dict[str, _Route] = {}
        for doc in config.routes:
            if doc.adaptive is None:
                continue
            target = doc.adaptive.p95_ms or doc.latency.p95_ms
            assert target is not None  # RouteDoc checks it
            kept = self._routes.get(doc.name)
            if kept is not None:
                kept.doc, kept.target_ms = doc.adaptive, target
                routes[doc.name] = kept
            else:
                routes[doc.name] = _Route(doc.adaptive, target, RouteState(since=self._clock()), Recent(), Recent())
        self._routes = routes
        self._tenants = {t.name: t for t in config.tenants if t.budget is not None}
        self._economy &= set(self._tenants)

    def level(self, route: str) -> int:
        controlled = self._routes.get(route)
        return controlled.state.level if controlled else 0

    def in_economy(self, tenant: str) -> bool:
        return tenant in self._economy

    def levels(self, routes: Iterable[str]) -> dict[str, int]:
        """Each route's level now: how many tiers below its nominal one it is served."""
        return {name: self.level(name) for name in routes}

    def economy(self, tenants: Iterable[str]) -> frozenset[str]:
        """The tenants in spend economy now."""
        return frozenset(t for t in tenants if t in self._economy)

    # --- per request (decide stage, cache stage, account finisher) ------------------

    def adjust(self, ctx: RequestContext, routing: Routing) -> Routing:
        """The decision with the control applied: the route's level and the tenant's economy."""
        controlled = self._routes.get(ctx.route_name)
        steps, kind = 0, ""
        if controlled is not None:
            level = controlled.state.level
            if level > 0 and not is_probe(self._draw(), controlled.doc.probe_share):
                steps, kind, ctx.control = level, "slo_downgrade", "downgraded"
            else:
                ctx.control = "probe" if level > 0 else "nominal"
        spend = self._settings.spend
        if spend is not None and spend.lower_tier and ctx.tenant in self._economy:
            steps, kind = steps + 1, kind or "budget_economy"
        if steps == 0:
            return routing
        lowered = clamp(shift(routing.tier, -steps), routing.min_tier, None)  # never below the policy's floor
        if lowered == routing.tier:
            return routing
        ctx.degradations.append(f"{kind}:{routing.tier}->{lowered}")
        return replace(routing, tier=lowered)

    def cache_relief(self, tenant: str) -> float:
        """How much to lower the semantic-cache threshold for this tenant (economy)."""
        spend = self._settings.spend
        return spend.cache_relief if spend is not None and tenant in self._economy else 0.0

    def observe(self, ctx: RequestContext) -> None:
        """A request ended: its latency counts if it reached a model (not a cache hit, not refused)."""
        if ctx.control is None or ctx.deployment is None:
            return
        controlled = self._routes.get(ctx.route_name)
        if controlled is None:
            return
        now = self._clock()
        if ctx.control != "probe":
            controlled.served.add(now, ctx.latency_ms)
        if ctx.control != "downgraded":
            controlled.nominal.add(now, ctx.latency_ms)

    # --- the loop -----------------------------------------------------------------

    def start(self) -> None:
        self._ticker.start()

    async def close(self) -> None:
        await self._ticker.close()

    async def evaluate(self) -> list[TransitionRecord]:
        """One step for every controlled route and budgeted tenant; the transitions made."""
        now = self._clock()
        elapsed = now - self._last_evaluation if self._last_evaluation is not None else 0.0
        self._last_evaluation = now
        made = [t for name, route in self._routes.items() if (t := self._step_route(name, route, now, elapsed))]
        if self._settings.spend is not None:
            made += await self._step_spend(now)
        for record in made:
            await self._record(record)
        return made

    def _step_route(self, name: str, route: _Route, now: float, elapsed: float) -> TransitionRecord | None:
        since = now - route.doc.window_s
        served, nominal = route.served.figures(since), route.nominal.figures(since)
        seen = Measured(served.p95_ms, served.requests, nominal.p95_ms, nominal.requests)
        before = route.state
        route.state, moved = step(route.state, seen, route.doc, route.target_ms, now)
        if before.level > 0:
            self._metrics.downgraded_seconds.labels(name).inc(elapsed)
        self._metrics.control_level.labels(name).set(route.state.level)
        if moved is None:
            return None
        route.served.clear()  # what was served at the old level says nothing of the new one
        if moved.to_level == 0:
            route.nominal.clear()
        return _latency_record(name, moved)

    async def _step_spend(self, now: float) -> list[TransitionRecord]:
        spend = self._settings.spend
        assert spend is not None
        made = []
        for name, tenant in self._tenants.items():
            budget = tenant.budget
            assert budget is not None
            ceiling = budget.hard_usd or budget.soft_usd
            assert ceiling is not None
            start, _ = period_bounds(budget, now)
            try:
                settled, reserved = await self._admission.spent(budget_key(name, start), now)
            except STORE_ERRORS as exc:  # the admission store is away: keep the economy as it was
                log.warning("adaptive control: spend of tenant %r unavailable (%s)", name, exc)
                continue
            fraction = (settled + reserved) / ceiling
            was = name in self._economy
            now_in = economy(was, fraction, spend.threshold, spend.hysteresis)
            if now_in == was:
                continue
            (self._economy.add if now_in else self._economy.discard)(name)
            self._metrics.economy.labels(name).set(1 if now_in else 0)
            made.append(
                TransitionRecord(
                    ts=now,
                    scope=f"tenant:{name}",
                    kind="spend",
                    direction="down" if now_in else "up",
                    from_level=int(was),
                    to_level=int(now_in),
                    reason=f"{fraction:.0%} of the {ceiling:g} USD budget spent (threshold {spend.threshold:.0%})",
                    p95_ms=None,
                    target_ms=None,
                    downgraded_s=None,
                )
            )
        return made

    async def _record(self, record: TransitionRecord) -> None:
        log.warning(
            "adaptive control: %s %s %s (level %d -> %d): %s",
            record.scope,
            record.kind,
            record.direction,
            record.from_level,
            record.to_level,
            record.reason,
        )
        self._metrics.transitions.labels(record.scope, record.kind, record.direction).inc()
        if record.downgraded_s is not None:
            self._metrics.downgrade_duration.labels(record.scope.removeprefix("route:")).observe(record.downgraded_s)
        await store(self._log_transition, record)


def _latency_record(route: str, moved: Transition) -> TransitionRecord:
    return TransitionRecord(
        ts=moved.at,
        scope=f"route:{route}",
        kind="latency",
        direction=moved.direction,
        from_level=moved.from_level,
        to_level=moved.to_level,
        reason=moved.reason,
        p95_ms=moved.p95_ms,
        target_ms=moved.target_ms,
        downgraded_s=moved.downgraded_s,
    )
