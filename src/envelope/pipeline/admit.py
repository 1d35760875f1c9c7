"""Admit: take the request's whole ask from the admission store — rate-limit tokens,
concurrency slots, a place at its tier's capacity gate, and a reservation of its
worst-case cost against the tenant's budget — or refuse it with 429 and Retry-After.

The reservation covers every upstream request the request may make (retries,
fallbacks, a hedge), each at its worst case: a failed attempt may be billed too.

A request denied only by a capacity gate may wait for a slot, within what is left of
its latency budget, if its replica's queue for that gate has room; otherwise it is
shed. Lower priorities fill a smaller share of every concurrency limit
(`admission.priority_shares`), so they are shed first. `Release` gives everything
back when the request ends, settling the reservation to the actual cost.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter

from envelope.admission.ports import AdmissionStore
from envelope.catalog import Catalog, ServedModel
from envelope.config.documents import AdmissionDoc, BudgetDoc
from envelope.core.admission import Ask, Decision, Facts, Planner, settlement
from envelope.core.rules import DEFAULT_CAPACITY, capacity_wait_s
from envelope.errors import BudgetExceeded, RateLimited
from envelope.pipeline.context import RequestContext
from envelope.pipeline.fleet import Fleet

POLL_S = 0.02
STREAM_LEASE_S = 600.0  # a stream's deadline bounds its first token only; hold its slot longer


class Admit:
    name = "admit"

    def __init__(self, catalog: Catalog, store: AdmissionStore, settings: AdmissionDoc, fleet: Fleet) -> None:
        self._catalog = catalog
        self._fleet = fleet
        self._store = store
        self._settings = settings
        self._planner = Planner(settings)
        self._waiting: Counter[str] = Counter()

    async def run(self, ctx: RequestContext) -> None:
        ask, decision = await self._ask(ctx)
        if ask.empty:
            return
        if not decision.admitted and decision.gate:
            ask, decision = await self._at_capacity(ctx, ask, decision)
        if not decision.admitted:
            raise _refusal(decision)
        ctx.admission = ask
        if decision.soft_exceeded:
            self._soften(ctx, self._catalog.tenants[ctx.tenant].budget)
        if decision.local:
            ctx.degradations.append("admission_local")

    async def _ask(self, ctx: RequestContext) -> tuple[Ask, Decision]:
        assert ctx.key is not None and ctx.route is not None and ctx.model is not None
        remaining = ctx.remaining_s()
        facts = Facts(
            request_id=ctx.request_id,
            tenant=self._catalog.tenants[ctx.tenant],
            route=ctx.route,
            key_id=ctx.key.id,
            tier=ctx.model.doc.tier,
            input_tokens=ctx.input_tokens,
            worst_case_usd=reserved_usd(ctx),
            deadline_s=max(remaining, STREAM_LEASE_S) if ctx.stream else remaining,
            priority=ctx.priority,
        )
        ask = self._planner.plan(facts, time.time())
        if ask.empty:
            return ask, Decision(admitted=True)
        return ask, await self._store.admit(ask, time.time())

    async def _at_capacity(self, ctx: RequestContext, ask: Ask, decision: Decision) -> tuple[Ask, Decision]:
        """The tier's capacity gate is full: the policy's steps in order — wait for a slot
        (bounded), reroute to another tier's model that is expected within the SLO."""
        steps = ctx.routing.capacity if ctx.routing is not None else DEFAULT_CAPACITY
        for i, step in enumerate(steps):
            if step == "wait":
                wait_ms = ctx.routing.capacity_wait_ms if ctx.routing else None
                bound = capacity_wait_s(ctx.remaining_s(), wait_ms, last=i == len(steps) - 1)
                decision = await self._wait(ctx, ask, decision, bound)
            else:
                ask, decision = await self._reroute(ctx, ask, decision)
            if decision.admitted or not decision.gate:
                break
        return ask, decision

    async def _reroute(self, ctx: RequestContext, ask: Ask, decision: Decision) -> tuple[Ask, Decision]:
        """Admit on an alternate of another tier instead; if none is admitted, the request is
        back on its own model, with its own ask and refusal, for any step that follows."""
        assert ctx.model is not None and ctx.fit is not None
        original, alternates = ctx.fit, list(ctx.alternates)
        full = ctx.model.doc.tier
        for alternate in alternates:
            tier = alternate.model.doc.tier
            if tier == full or not self._fleet.within(alternate.model, ctx.remaining_s()):
                continue
            ctx.use(alternate)
            rerouted, verdict = await self._ask(ctx)
            if verdict.admitted:
                ctx.degradations.append(f"rerouted:{full}->{tier}")
                return rerouted, verdict
        ctx.use(original)
        ctx.alternates = alternates
        return ask, decision

    @staticmethod
    def _soften(ctx: RequestContext, budget: BudgetDoc | None) -> None:
        """Past the soft budget: say so, and cap the answer's length if the policy says."""
        ctx.degradations.append("budget_soft_limit")
        if budget is None or budget.on_soft != "cap_output" or ctx.max_tokens is None:
            return
        if ctx.max_tokens > budget.soft_max_output_tokens:
            ctx.max_tokens = budget.soft_max_output_tokens
            ctx.upstream_body["max_tokens"] = ctx.max_tokens
            ctx.degradations.append("max_tokens_capped_by_budget")

    async def _wait(self, ctx: RequestContext, ask: Ask, decision: Decision, bound_s: float) -> Decision:
        gate = next(s for s in ask.slots if s.gate)
        capacity = self._settings.capacity.get(ctx.model.doc.tier) if ctx.model else None
        if capacity is None or self._waiting[gate.key] >= capacity.queue:
            return decision
        self._waiting[gate.key] += 1
        until = time.perf_counter() + bound_s
        try:
            while (
                not decision.admitted and decision.gate and min(ctx.remaining_s(), until - time.perf_counter()) > POLL_S
            ):
                await asyncio.sleep(POLL_S)
                decision = await self._store.admit(ask, time.time())
        finally:
            self._waiting[gate.key] -= 1
        if not decision.admitted:
            ctx.degradations.append("queued")
        return decision


def reserved_usd(ctx: RequestContext) -> float:
    """The worst case of every upstream request this request may make, each of which may
    be billed: its model's attempts and, if the policy falls back across tiers, the
    alternates' attempts too."""
    assert ctx.model is not None
    total = ctx.worst_case_usd * max_attempts(ctx, ctx.model)
    if ctx.routing is not None and ctx.routing.fallback_tiers:
        total += sum(a.worst_case_usd * max_attempts(ctx, a.model) for a in ctx.alternates)
    return total


def max_attempts(ctx: RequestContext, model: ServedModel) -> int:
    """Upstream requests the request may make of `model`: each deployment's first try
    and retries, and a hedge."""
    assert ctx.route is not None
    attempts = sum(1 + d.doc.retries for d in model.deployments)
    if ctx.route.hedge and len(model.deployments) > 1:
        attempts += 1  # a hedge may run beside a first attempt that is billed anyway
    return attempts


class Release:
    """Finisher: settle what `Admit` took, whatever the request's outcome."""

    def __init__(self, store: AdmissionStore) -> None:
        self._store = store

    async def finish(self, ctx: RequestContext) -> None:
        if ctx.admission is None:
            return
        done = settlement(ctx.admission, actual_usd=ctx.cost_usd, output_tokens=ctx.output_tokens)
        await self._store.settle(done, time.time())


def _refusal(decision: Decision) -> Exception:
    if decision.never:
        return BudgetExceeded(
            f"This request alone exceeds the {decision.denied_by} limit; it cannot be admitted.",
            code="exceeds_limit",
        )
    retry = max(1, math.ceil(decision.retry_after_s))
    budget = decision.denied_by is not None and "budget" in decision.denied_by
    return RateLimited(
        f"Limit reached: {decision.denied_by}. Retry after {retry} s.",
        code="budget_exceeded" if budget else "rate_limit_exceeded",
        param=decision.denied_by,
        headers={"retry-after": str(retry)},
    )
