"""The Envelope config's routing, applied to simulated requests: arrivals in, plans out.

Pure, and built from the gateway's own pieces: the route's envelope (`core/envelope.bind`:
deadline, mode, token caps), its policy's rules (`core/rules.Policy`) over the request's
facts, the tier preference order, and the cost ceiling's remedies priced with
`core/pricing`. What the gateway does and this does not: classification (a trace
row's intent, complexity and risk are taken as the classifier's verdict), feature
flags (off), adaptive control, experiments, shrinking the context, and the real
cache (a hit rate stands in for it).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from envelope.config.documents import ConfigSet, Prices, RouteDoc, Tier
from envelope.core.envelope import Envelope, Overrides, bind, plan_output
from envelope.core.rules import Facts, Policy, Routing, base_tier, preference, rank, remedies, routing_from
from envelope.errors import BudgetExceeded
from envelope.sim.fleet import Fleet
from envelope.sim.plan import Plan
from envelope.sim.trace import Arrival

UNBOUNDED_CONTEXT = 10**9  # a tier's fleet holds what it holds (KV capacity); no context window here


class PlanError(Exception):
    """The trace, the fleet and the config do not go together (e.g. an unknown route)."""


def tier_prices(config: ConfigSet, fleet: Fleet) -> tuple[dict[Tier, Prices], list[str]]:
    """Each tier's prices: the fleet's own, else those of the config model it names, else
    those of the config's first chat model of that tier; and notes on tiers left at 0."""
    models = {m.name: m for m in config.models}
    prices: dict[Tier, Prices] = {}
    notes: list[str] = []
    for tier, pool in fleet.tiers.items():
        if pool.prices is not None:
            prices[tier] = pool.prices
        elif pool.model is not None:
            if pool.model not in models:
                raise PlanError(f"fleet tier {tier}: model {pool.model!r} is not in the Envelope config")
            prices[tier] = models[pool.model].prices
        else:
            found = next((m for m in config.models if m.tier == tier and not m.embedding), None)
            prices[tier] = found.prices if found is not None else Prices()
            if found is None:
                notes.append(f"tier {tier}: no prices in the fleet and no {tier} model in the config: cost 0")
    return prices, notes


class Router:
    """Plans for arrivals under one config and fleet."""

    def __init__(
        self,
        config: ConfigSet,
        fleet: Fleet,
        prices: dict[Tier, Prices],
        *,
        cache_hit_rate: float | None = None,
        recorded_tiers: bool = False,
    ) -> None:
        self._routes = {r.name: r for r in config.routes}
        self._tenant_modes = {t.name: t.mode for t in config.tenants}
        self._policies = {p.name: Policy(p) for p in config.policies}
        self._fleet_tiers = frozenset(fleet.tiers)
        self._prices = prices
        self._hit_rate = cache_hit_rate
        self._recorded = recorded_tiers
        self._known: dict[tuple[object, ...], tuple[Envelope, Routing, tuple[Tier, ...]]] = {}

    def plans(self, arrivals: Sequence[Arrival], rng: random.Random) -> list[Plan]:
        unknown = sorted({a.route for a in arrivals} - set(self._routes))
        if unknown:
            raise PlanError(
                f"the trace names routes the config does not have: {', '.join(unknown)} "
                f"(config routes: {', '.join(sorted(self._routes))})"
            )
        return [self.plan(a, rng) for a in arrivals]

    def plan(self, arrival: Arrival, rng: random.Random) -> Plan:
        envelope, routing, order = self._route(arrival)
        cached = (
            routing.cache != "bypass" and rng.random() < self._hit_rate
            if self._hit_rate is not None
            else arrival.cache_hit
        )
        input_tokens = arrival.tokens_in
        rejected = None
        if input_tokens > envelope.max_input_tokens:
            if envelope.truncate_input:
                input_tokens = envelope.max_input_tokens
            else:
                rejected = "input_too_long"
        output_tokens = min(arrival.output_tokens, envelope.max_output_tokens)
        if order and not cached and rejected is None:
            fitted = self._fit_cost(order, routing, envelope, input_tokens)
            if fitted is None:
                rejected = "over_budget"
            else:
                order, cap = fitted
                output_tokens = min(output_tokens, cap)
        if not order:
            rejected = rejected or "no_tier"
        steps = routing.capacity if len(order) > 1 else tuple(s for s in routing.capacity if s != "next_tier")
        return Plan(
            t=arrival.ts,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            tiers=order,
            steps=steps,
            wait_ms=routing.capacity_wait_ms,
            deadline_ms=envelope.deadline_ms,
            cached=cached,
            rejected=rejected,
        )

    def _route(self, arrival: Arrival) -> tuple[Envelope, Routing, tuple[Tier, ...]]:
        """The envelope, the policy's decision and the tiers in preference order; the same
        facts give the same answer, so each is worked out once."""
        route = self._routes[arrival.route]
        policy = self._policies.get(route.policy) if route.policy else None
        chars = arrival.input_chars if policy is not None and "input_chars" in policy.reads else 0
        tier = arrival.tier if self._recorded else None
        key = (
            arrival.route, arrival.tenant, arrival.feature, arrival.mode, arrival.latency_budget_ms,
            arrival.intent, arrival.complexity, arrival.risk, chars, tier,
        )  # fmt: skip
        known = self._known.get(key)
        if known is not None:
            return known
        envelope = bind(
            route,
            Overrides(latency_budget_ms=arrival.latency_budget_ms, mode=arrival.mode),
            self._tenant_modes.get(arrival.tenant),
        )
        routing = self._decide(route, envelope, arrival)
        target = tier if tier is not None else routing.tier
        order = [t for t in preference(target, routing) if t in self._fleet_tiers]
        if target in self._fleet_tiers and target not in order:
            order.insert(0, target)  # a recorded tier is served where it was, bounds or not
        known = self._known[key] = (envelope, routing, tuple(order))
        return known

    def _decide(self, route: RouteDoc, envelope: Envelope, arrival: Arrival) -> Routing:
        base = base_tier(route.quality_tier, envelope.mode)
        policy = self._policies.get(route.policy) if route.policy else None
        if policy is None:
            return routing_from({}, base)
        facts = Facts(
            mode=envelope.mode,
            latency_budget_ms=envelope.deadline_ms,
            cost_budget_usd=envelope.cost_ceiling_usd,
            input_chars=arrival.input_chars,
            stream=False,
            tenant=arrival.tenant,
            feature=arrival.feature,
            intent=arrival.intent,
            complexity=arrival.complexity,
            risk=arrival.risk,
        )
        return policy.decide(facts, base)

    def _fit_cost(
        self, order: tuple[Tier, ...], routing: Routing, envelope: Envelope, input_tokens: int
    ) -> tuple[tuple[Tier, ...], int] | None:
        """Under the cost ceiling: the tiers to serve from, first the one fitting, and the
        output cap — the policy's `over_budget` remedies tried in its order, as the gateway's
        route stage tries them (`core/rules.remedies`, `core/envelope.plan_output`)."""
        target = order[0]
        lower = [t for t in order[1:] if rank(t) < rank(target)]
        for tier, active in remedies([target], lower, routing.over_budget):
            try:
                output = plan_output(
                    envelope,
                    requested=None,
                    input_tokens=input_tokens,
                    context_window=UNBOUNDED_CONTEXT,
                    prices=self._prices[tier],
                    cap_by_cost="cap_output" in active,
                )
            except BudgetExceeded:
                continue
            return (tier, *(t for t in order if t != tier)), output.max_tokens
        return None
