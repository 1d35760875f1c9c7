"""Route: choose the model that serves a chat request, and fit the request onto it.

1. (The envelope is bound already: route limits tightened by headers; mode from the
   request, the tenant or the route.)
2. Decide with the route's policy (`core/rules.py`) over the request's facts and, if
   it ran, the classifier's verdict: target tier, tier bounds, remedies.
3. Candidates: with `model: auto`, the route's models of the target tier (or the
   nearest tier that has one); with a named model, that model (preference rules do
   not move a model the client named; remedies may, within the policy's bounds).
4. Fit the request onto the candidates, applying the policy's over-budget remedies in
   order (shrink context, lower tier, cap output) until one fits.
5. Alternates: when the policy allows falling back or rerouting across tiers, the
   other tiers' models are fitted too, in tier preference order, for `admit` (capacity
   reroute) and `infer` (fallback when every deployment failed).

Every change of tier the client did not ask for is a degradation.
"""

from __future__ import annotations

from envelope.catalog import Catalog, ServedModel
from envelope.config.documents import Tier
from envelope.core.rules import TIERS, Facts, Policy, Routing, base_tier, preference, rank, remedies, routing_from
from envelope.errors import BudgetExceeded, InvalidRequest
from envelope.pipeline.bind import ChatFitter
from envelope.pipeline.context import Fit, RequestContext
from envelope.wire import message_text


class Decide:
    """Step 2 alone: the policy's decision (`ctx.routing`), which retrieval reads before
    the request is fitted."""

    name = "decide"

    def __init__(self, policies: dict[str, Policy]) -> None:
        self._policies = policies
        self._unruled = {tier: routing_from({}, tier) for tier in TIERS}  # routes without a policy

    async def run(self, ctx: RequestContext) -> None:
        route, envelope = ctx.route, ctx.envelope
        assert route is not None and envelope is not None
        base = base_tier(route.quality_tier, envelope.mode)
        policy = self._policies.get(route.policy) if route.policy else None
        ctx.routing = policy.decide(self._facts(ctx, policy.reads), base) if policy else self._unruled[base]

    @staticmethod
    def _facts(ctx: RequestContext, reads: frozenset[str]) -> Facts:
        assert ctx.envelope is not None and ctx.chat is not None
        verdict = ctx.classification
        chars = sum(len(message_text(m)) for m in ctx.chat.messages) if "input_chars" in reads else 0
        return Facts(
            mode=ctx.envelope.mode,
            latency_budget_ms=ctx.envelope.deadline_ms,
            cost_budget_usd=ctx.envelope.cost_ceiling_usd,
            input_chars=chars,
            stream=ctx.stream,
            tenant=ctx.tenant,
            feature=ctx.feature,
            intent=verdict.intent if verdict else None,
            complexity=verdict.complexity if verdict else None,
            risk=verdict.risk if verdict else None,
            risk_flags=verdict.flags if verdict else frozenset(),
        )


class Route:
    """Steps 3–5, on the decision `Decide` made."""

    name = "route"

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    async def run(self, ctx: RequestContext) -> None:
        route, chat, envelope, decision = ctx.route, ctx.chat, ctx.envelope, ctx.routing
        assert route is not None and chat is not None and envelope is not None and decision is not None

        tiers = self._catalog.by_tier(route)
        pinned = ctx.model
        target: Tier = pinned.doc.tier if pinned is not None else decision.tier
        order = preference(target, decision)
        if pinned is not None:
            primary = [pinned]
        else:
            serving = next((t for t in order if tiers.get(t)), None)
            if serving is None:
                raise InvalidRequest(
                    f"Route {route.name!r} has no chat model in the tiers its policy allows "
                    f"({', '.join(order) or 'none'}).",
                    param="model",
                    code="no_model_for_tier",
                )
            if serving != target:
                ctx.degradations.append(f"tier_unavailable:{target}->{serving}")
            primary, target = tiers[serving], serving
        lower = [m for t in order if rank(t) < rank(target) for m in tiers.get(t, ()) if m not in primary]

        fitter = ChatFitter(ctx, envelope)
        chosen = self._choose(fitter, primary, lower, decision)
        ctx.use(chosen)
        if chosen.model.doc.tier != target:
            ctx.degradations.append(f"tier_lowered:{target}->{chosen.model.doc.tier}")
        if decision.fallback_tiers or "next_tier" in decision.capacity:
            ctx.alternates = self._alternates(fitter, chosen.model, order, tiers, decision)

    @staticmethod
    def _choose(fitter: ChatFitter, primary: list[ServedModel], lower: list[ServedModel], decision: Routing) -> Fit:
        first: BudgetExceeded | None = None
        for model, active in remedies(primary, lower, decision.over_budget):
            try:
                return fitter.fit(model, active)
            except BudgetExceeded as exc:
                first = first or exc
        assert first is not None
        raise first

    @staticmethod
    def _alternates(
        fitter: ChatFitter,
        chosen: ServedModel,
        order: list[Tier],
        tiers: dict[Tier, list[ServedModel]],
        decision: Routing,
    ) -> list[Fit]:
        """Another model of the chosen one's tier, then one of each other tier in preference
        order: the first of each that fits the envelope."""
        fits: list[Fit] = []
        steps = frozenset(s for s in decision.over_budget if s != "lower_tier")
        for tier in sorted(order, key=lambda t: t != chosen.doc.tier):
            for model in tiers.get(tier, ()):
                if model is chosen:
                    continue
                try:
                    fits.append(fitter.fit(model, steps))
                    break
                except BudgetExceeded:
                    continue
        return fits
