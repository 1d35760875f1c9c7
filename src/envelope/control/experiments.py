"""Experiments, the shell: assigns each request of a route with an `experiment` to an arm
(decide stage), measures every arm (account finisher) and rolls a breaching canary back
(`core/experiment.py` decides), every `interval_s`.

A rollback sends all the candidate's traffic to the control arm at once, on this
replica; it is logged, counted (`envelope_experiment_rollbacks_total`) and stored as a
transition (`experiment:ROUTE/NAME`, kind `canary`). It holds until the experiment's
document changes (a new config version) or the gateway restarts. When the active
registry version introduced the canary (`rollback.registry`, the default), the gateway
also rolls the registry back to the last-known-good version (`bootstrap.py`), which
every replica follows and which marks the canary's version bad.
The arm of every request is in its ledger row (`experiment`: `NAME:ARM`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from envelope.config.control import ArmDoc, ExperimentDoc
from envelope.config.documents import ConfigSet
from envelope.control.recent import Recent
from envelope.control.transitions import TransitionLog, store
from envelope.core.experiment import Figures, assign, breach, bucket
from envelope.pipeline.context import RequestContext
from envelope.store.records import TransitionRecord
from envelope.telemetry.metrics import Metrics
from envelope.ticker import Ticker

log = logging.getLogger("envelope.experiments")

# Told of a canary rolled back here: the route, the experiment, why.
RollbackHook = Callable[[str, ExperimentDoc, str], Awaitable[None]]

# Guardrail actions that changed or flagged an answer: the canary's quality signal.
_QUALITY_EVENTS = (":refuse", ":answer", ":flag", ":redact")


@dataclass(slots=True)
class _Running:
    route: str
    doc: ExperimentDoc
    weights: list[float]
    arms: list[Recent]
    rolled_back: str | None = None


class Experiments:
    def __init__(
        self,
        metrics: Metrics,
        *,
        interval_s: float = 1.0,
        log_transition: TransitionLog | None = None,
        on_rollback: RollbackHook | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._metrics = metrics
        self._log_transition = log_transition
        self._on_rollback = on_rollback
        self._clock = clock
        self._running: dict[str, _Running] = {}
        self._ticker = Ticker("experiments", interval_s, self.evaluate)

    def configure(self, config: ConfigSet) -> None:
        """Run the experiments of `config`; one whose document is unchanged keeps its figures
        and its rollback."""
        running: dict[str, _Running] = {}
        for route in config.routes:
            doc = route.experiment
            if doc is None:
                continue
            kept = self._running.get(route.name)
            if kept is not None and kept.doc == doc:
                running[route.name] = kept
                continue
            running[route.name] = _Running(route.name, doc, [a.weight for a in doc.arms], [Recent() for _ in doc.arms])
            self._publish_weights(running[route.name])
        self._running = running

    def start(self) -> None:
        self._ticker.start()

    async def close(self) -> None:
        await self._ticker.close()

    # --- per request --------------------------------------------------------------

    def assign(self, ctx: RequestContext) -> ArmDoc | None:
        """The arm of this request (also noted in `ctx.experiment`), or None."""
        running = self._running.get(ctx.route_name)
        if running is None:
            return None
        doc = running.doc
        unit = ctx.key.id if doc.unit == "key" and ctx.key is not None else ctx.request_id
        index = assign(running.weights, bucket(doc.name, unit))
        arm = doc.arms[index]
        ctx.experiment = f"{doc.name}:{arm.name}"
        ctx.arm = index
        return arm

    def observe(self, ctx: RequestContext) -> None:
        running = self._running.get(ctx.route_name)
        if running is None or ctx.arm is None or ctx.arm >= len(running.arms):
            return
        if ctx.experiment != f"{running.doc.name}:{running.doc.arms[ctx.arm].name}":
            return  # began under another version of the experiment
        if 400 <= ctx.status < 500:
            return  # the client's mistake says nothing of the arm
        guarded = ctx.guarded is not None and any(e.endswith(_QUALITY_EVENTS) for e in ctx.guarded.events)
        running.arms[ctx.arm].add(self._clock(), ctx.latency_ms, ok=ctx.status < 500, guarded=guarded)
        self._metrics.experiment_requests.labels(ctx.route_name, running.doc.name, running.doc.arms[ctx.arm].name).inc()

    # --- the loop -----------------------------------------------------------------

    async def evaluate(self) -> list[TransitionRecord]:
        """Judge every canary still running; the rollbacks made."""
        now = self._clock()
        made = []
        for running in self._running.values():
            if running.doc.kind != "canary" or running.rolled_back is not None:
                continue
            rule = running.doc.rollback
            since = now - rule.window_s
            control, candidate = (arm.figures(since) for arm in running.arms)
            why = breach(control, candidate, rule)
            if why is None:
                continue
            running.rolled_back = why
            running.weights = [1.0, 0.0]
            self._publish_weights(running)
            made.append(self._rolled_back(running, why, candidate, now))
            if self._on_rollback is not None:
                await self._on_rollback(running.route, running.doc, why)
        for record in made:
            await store(self._log_transition, record)
        return made

    def _rolled_back(self, running: _Running, why: str, candidate: Figures, now: float) -> TransitionRecord:
        doc = running.doc
        self._metrics.experiment_rollbacks.labels(running.route, doc.name).inc()
        log.warning("canary %s on route %r rolled back: %s", doc.name, running.route, why)
        return TransitionRecord(
            ts=now,
            scope=f"experiment:{running.route}/{doc.name}",
            kind="canary",
            direction="down",
            from_level=1,
            to_level=0,
            reason=f"{doc.arms[1].name} rolled back: {why}",
            p95_ms=candidate.p95_ms,
            target_ms=None,
            downgraded_s=None,
        )

    def _publish_weights(self, running: _Running) -> None:
        total = sum(running.weights) or 1.0
        for arm, weight in zip(running.doc.arms, running.weights, strict=True):
            self._metrics.experiment_weight.labels(running.route, running.doc.name, arm.name).set(weight / total)

    def rolled_back(self, route: str) -> str | None:
        """Why the route's canary was rolled back, or None."""
        running = self._running.get(route)
        return running.rolled_back if running else None
