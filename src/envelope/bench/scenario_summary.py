"""What one side of the scenario measured, summed up from its requests' outcomes. Pure.

Definitions (the README's "Seed scenario benchmark" says the same):

- Latency: from each request's *scheduled* send time to the end of its answer, for
  every request that ended (errors too, at the time they ended; a request the client
  gave up on counts at its timeout). p95 / p99 are nearest-rank.
- Shares (tier S or cache, tier L, cache hits) are of the requests answered (2xx).
  A cache hit is an answer with `x-envelope-cache` exact, semantic or coalesced; it
  has no tier.
- Cost: the sum of `x-envelope-cost-usd` (the gateway's price of the upstream usage;
  a hit costs 0) per 1,000 answered requests.
- A budget violation is a request that was not answered (any non-2xx status, a
  timeout or a broken connection — refused for budget or capacity included), or was
  answered after its route's deadline, or cost more than its route's cost ceiling.
  Each request counts once, in the first of those that applies.
- High-risk on tier L: of the answered requests labelled high risk in the workload
  (not the classifier's verdict), the share a tier-L model answered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from envelope.bench.scenario_configs import RouteBudget
from envelope.evals.results import percentile as nearest_rank
from envelope.ledger.record import CACHE_HITS


@dataclass(frozen=True, slots=True)
class Outcome:
    """One request as the client saw it."""

    index: int
    route: str
    kind: str
    high_risk: bool
    in_burst: bool
    status: int  # 0: no HTTP answer (timeout, broken connection)
    latency_ms: float
    tier: str | None = None
    cache: str | None = None
    cost_usd: float = 0.0
    degradations: tuple[str, ...] = ()
    error: str | None = None  # the client's exception when there was no HTTP answer

    @property
    def answered(self) -> bool:
        return 200 <= self.status < 300

    @property
    def hit(self) -> bool:
        return self.answered and self.cache in CACHE_HITS


@dataclass(frozen=True, slots=True)
class RouteFigures:
    requests: int
    answered: int
    p50_ms: float
    p95_ms: float
    p99_ms: float


@dataclass(frozen=True, slots=True)
class Violations:
    failed: int
    late: int
    over_cost: int

    @property
    def total(self) -> int:
        return self.failed + self.late + self.over_cost


@dataclass(frozen=True, slots=True)
class Control:
    """Adaptive control as the gateway reported it (`/metrics`, `/admin/control/transitions`)."""

    downgraded_s: float = 0.0
    downgrades: int = 0
    recoveries: int = 0
    transitions: tuple[str, ...] = ()  # "12.3 s route:support down 0->1: reason"


@dataclass(frozen=True, slots=True)
class Summary:
    requests: int
    answered: int
    routes: dict[str, RouteFigures]
    cache_hit_rate: float
    support_cache_hit_rate: float
    share_s_or_cache: float
    share_l: float
    tiers: dict[str, int]  # answered requests per tier, "cache" for hits
    cost_usd: float
    cost_per_1k_usd: float
    violations: Violations
    high_risk_on_l: float
    statuses: dict[str, int]
    degradations: dict[str, int]  # kinds (`rerouted`, `slo_downgrade`…) over all requests
    control: Control = field(default_factory=Control)

    @property
    def violation_rate(self) -> float:
        return self.violations.total / self.requests if self.requests else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (`evals.results.percentile`); 0 for no values."""
    return nearest_rank(values, q) or 0.0


def summarise(outcomes: Sequence[Outcome], budgets: Mapping[str, RouteBudget], control: Control) -> Summary:
    answered = [o for o in outcomes if o.answered]
    tiers: dict[str, int] = {}
    for o in answered:
        key = "cache" if o.hit else (o.tier or "?")
        tiers[key] = tiers.get(key, 0) + 1
    support = [o for o in answered if o.route == "support"]
    risky = [o for o in answered if o.high_risk]
    cost = sum(o.cost_usd for o in outcomes)
    return Summary(
        requests=len(outcomes),
        answered=len(answered),
        routes={route: _route(outcomes, route) for route in budgets},
        cache_hit_rate=_share(sum(o.hit for o in answered), len(answered)),
        support_cache_hit_rate=_share(sum(o.hit for o in support), len(support)),
        share_s_or_cache=_share(tiers.get("cache", 0) + tiers.get("S", 0), len(answered)),
        share_l=_share(tiers.get("L", 0), len(answered)),
        tiers=dict(sorted(tiers.items())),
        cost_usd=cost,
        cost_per_1k_usd=1000 * cost / len(answered) if answered else 0.0,
        violations=violations(outcomes, budgets),
        high_risk_on_l=_share(sum(o.tier == "L" and not o.hit for o in risky), len(risky)),
        statuses=_count(str(o.status) if o.status else (o.error or "no answer") for o in outcomes),
        degradations=_count(d.split(":")[0] for o in outcomes for d in o.degradations),
        control=control,
    )


def violations(outcomes: Sequence[Outcome], budgets: Mapping[str, RouteBudget]) -> Violations:
    failed = late = over_cost = 0
    for o in outcomes:
        budget = budgets[o.route]
        if not o.answered:
            failed += 1
        elif o.latency_ms > budget.deadline_ms:
            late += 1
        elif o.cost_usd > budget.cost_ceiling_usd:
            over_cost += 1
    return Violations(failed, late, over_cost)


def _route(outcomes: Sequence[Outcome], route: str) -> RouteFigures:
    mine = [o for o in outcomes if o.route == route]
    latencies = [o.latency_ms for o in mine]
    return RouteFigures(
        requests=len(mine),
        answered=sum(o.answered for o in mine),
        p50_ms=percentile(latencies, 0.50),
        p95_ms=percentile(latencies, 0.95),
        p99_ms=percentile(latencies, 0.99),
    )


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _count(items: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))
