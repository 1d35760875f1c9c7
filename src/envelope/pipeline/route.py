"""Route: choose the model that serves a chat request, and fit the request onto it.

1. (The envelope is bound already: route limits tightened by headers; mode from the
   request, the tenant or the route.)
2. Decide with the route's policy (`core/rules.py`) over the request's facts and, if
   it ran, the classifier's verdict: target tier, tier bounds, remedies; then adaptive
   control may lower the tier (a route over its p95, a tenant near its budget). A route
   with an experiment first assigns the request to an arm, which may bring its own
   policy, base tier or model.
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

from collections.abc import Sequence
from datetime import UTC, datetime

from envelope.catalog import Catalog, ServedModel
from envelope.config.documents import FlagDoc, RouteDoc, Tier
from envelope.control.controller import Controller
from envelope.control.experiments import Experiments
from envelope.core.flags import flag_on
from envelope.core.rules import TIERS, Facts, Policy, Routing, base_tier, preference, rank, remedies, routing_from
from envelope.errors import BudgetExceeded, InvalidRequest
from envelope.pipeline.bind import ChatFitter
from envelope.pipeline.context import Fit, RequestContext
from envelope.wire import message_text


class Decide:
    """Step 2 alone: the policy's decision (`ctx.routing`), which retrieval reads before
    the request is fitted."""

    name = "decide"

    def __init__(
        self,
        policies: dict[str, Policy],
        control: Controller | None = None,
        experiments: Experiments | None = None,
        flags: Sequence[FlagDoc] = (),
    ) -> None:
        self._policies = policies
        self._flags = tuple(flags)
        self._unruled = {tier: routing_from({}, tier) for tier in TIERS}  # routes without a policy
        self._control = control
        self._experiments = experiments

    async def run(self, ctx: RequestContext) -> None:
        route, envelope = ctx.route, ctx.envelope
        assert route is not None and envelope is not None
        arm = self._experiments.assign(ctx) if self._experiments is not None and route.experiment else None
        quality, ruled_by = route.quality_tier, route.policy
        if arm is not None:
            quality, ruled_by = arm.quality_tier or quality, arm.policy or ruled_by
        base = base_tier(quality, envelope.mode)
        policy = self._policies.get(ruled_by) if ruled_by else None
        routing = policy.decide(self._facts(ctx, policy.reads), base) if policy else self._unruled[base]
        ctx.routing = self._control.adjust(ctx, routing) if self._control is not None else routing

    def _facts(self, ctx: RequestContext, reads: frozenset[str]) -> Facts:
        assert ctx.envelope is not None and ctx.chat is not None
        verdict = ctx.classification
        chars = sum(len(message_text(m)) for m in ctx.chat.messages) if "input_chars" in reads else 0
        flags: frozenset[str] = frozenset()
        if "flags" in reads:
            now = datetime.now(UTC)
            flags = frozenset(f.name for f in self._flags if flag_on(f, now, ctx.tenant))
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
            flags=flags,
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
        pinned = ctx.model or self._arm_model(ctx, route)
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

    def _arm_model(self, ctx: RequestContext, route: RouteDoc) -> ServedModel | None:
        """The model the request's experiment arm serves `auto` requests with, if it names one."""
        trial = route.experiment
        if ctx.arm is None or trial is None or ctx.arm >= len(trial.arms):
            return None
        name = trial.arms[ctx.arm].model
        return self._catalog.models.get(name) if name else None

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
