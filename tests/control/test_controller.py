"""The adaptive controller's shell over real collaborators (the in-memory admission store,
real metrics): it measures requests, steps routes, applies levels to decisions, and
puts a tenant near its budget into economy and out again at the next period."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from envelope.admission.memory import MemoryAdmission
from envelope.config.control import ControlDoc, SpendControlDoc
from envelope.config.documents import ConfigSet
from envelope.control.controller import Controller
from envelope.core.admission import Settlement, budget_key, period_bounds
from envelope.core.rules import routing_from
from envelope.pipeline.context import RequestContext
from envelope.store.records import TransitionRecord
from envelope.telemetry.metrics import Metrics

NOW = datetime(2026, 11, 10, tzinfo=UTC).timestamp()


def config(**route: Any) -> ConfigSet:
    return ConfigSet.model_validate(
        {
            "models": [{"name": "m", "deployments": [{"name": "d", "provider": {"type": "local"}}]}],
            "routes": [
                {
                    "name": "chat",
                    "latency": {"p95_ms": 100},
                    "adaptive": {"window_s": 10, "min_requests": 5, "breach_for_s": 2, "probe_share": 0.5, **route},
                },
                {"name": "plain"},
            ],
            "tenants": [
                {"name": "acme", "default_route": "chat", "budget": {"period": "monthly", "hard_usd": 1.0}},
                {"name": "free", "default_route": "chat"},
            ],
        }
    )


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def request(route: str = "chat", tenant: str = "acme", latency_ms: float = 50.0) -> RequestContext:
    ctx = RequestContext("r", "chat", {}, b"")
    ctx.route_name, ctx.tenant = route, tenant
    ctx.finished_at = ctx.started + latency_ms / 1000.0
    ctx.deployment = object()  # type: ignore[assignment]  # reached a model: that is all observe reads
    return ctx


def controller(
    admission: MemoryAdmission, clock: Clock, draws: list[float], spend: SpendControlDoc | None = None
) -> tuple[Controller, list[TransitionRecord], Metrics]:
    stored: list[TransitionRecord] = []

    async def keep(record: TransitionRecord) -> None:
        stored.append(record)

    metrics = Metrics()
    made = Controller(
        ControlDoc(spend=spend),
        metrics,
        admission,
        log_transition=keep,
        clock=clock,
        draw=lambda: draws.pop(0) if draws else 0.99,
    )
    made.configure(config())
    return made, stored, metrics


async def test_a_slow_route_is_served_lower_and_probes_keep_the_nominal_tier() -> None:
    clock = Clock()
    draws = [0.9, 0.1]  # the first request after the downgrade is not a probe, the second is
    control, stored, metrics = controller(MemoryAdmission(), clock, draws)
    for _ in range(6):
        ctx = request(latency_ms=300.0)
        assert control.adjust(ctx, routing_from({}, "M")).tier == "M" and ctx.control == "nominal"
        control.observe(ctx)
    await control.evaluate()  # breach starts
    clock.now += 2.5
    made = await control.evaluate()  # sustained: down
    assert [(t.scope, t.direction, t.to_level) for t in made] == [("route:chat", "down", 1)]
    assert stored == made and control.level("chat") == 1
    assert metrics.control_level.labels("chat")._value.get() == 1

    served = request()
    assert control.adjust(served, routing_from({}, "M")).tier == "S"
    assert served.degradations == ["slo_downgrade:M->S"] and served.control == "downgraded"
    probe = request()
    assert control.adjust(probe, routing_from({}, "M")).tier == "M" and probe.control == "probe"
    floor = request()
    assert control.adjust(floor, routing_from({"min_tier": "M"}, "M")).tier == "M"  # the policy's floor holds
    assert floor.degradations == []
    other = request(route="plain")
    assert control.adjust(other, routing_from({}, "M")).tier == "M" and other.control is None


async def test_requests_that_did_not_reach_a_model_are_not_measured() -> None:
    control, _, _ = controller(MemoryAdmission(), Clock(), [])
    for _ in range(10):
        ctx = request(latency_ms=900.0)
        control.adjust(ctx, routing_from({}, "M"))
        ctx.deployment = None  # a cache hit or a refusal
        control.observe(ctx)
    await control.evaluate()
    assert await control.evaluate() == [] and control.level("chat") == 0


async def test_a_tenant_near_its_budget_is_in_economy_until_the_next_period() -> None:
    clock, admission = Clock(), MemoryAdmission()
    spend = SpendControlDoc(threshold=0.8, hysteresis=0.05, cache_relief=0.04)
    control, stored, metrics = controller(admission, clock, [], spend)
    start, end = period_bounds(config().tenants[0].budget, clock.now)  # type: ignore[arg-type]
    await admission.settle(Settlement("a", reservation_key=budget_key("acme", start), actual_usd=0.79), clock.now)
    assert await control.evaluate() == [] and not control.in_economy("acme")
    await admission.settle(Settlement("b", reservation_key=budget_key("acme", start), actual_usd=0.02), clock.now)
    made = await control.evaluate()
    assert [(t.scope, t.kind, t.direction) for t in made] == [("tenant:acme", "spend", "down")]
    assert "81% of the 1 USD budget" in made[0].reason
    assert control.in_economy("acme") and not control.in_economy("free")
    assert control.cache_relief("acme") == 0.04 and control.cache_relief("free") == 0.0
    ctx = request()
    assert control.adjust(ctx, routing_from({}, "M")).tier == "S"
    assert ctx.degradations == ["budget_economy:M->S"]
    assert metrics.economy.labels("acme")._value.get() == 1

    clock.now = end + 1  # a new month: nothing spent yet
    made = await control.evaluate()
    assert [(t.scope, t.direction) for t in made] == [("tenant:acme", "up")]
    assert not control.in_economy("acme") and len(stored) == 2
