"""What a simulation predicts: latency percentiles, utilisation, queueing, shedding and cost.

Latency is arrival to last token, TTFT arrival to first token, both over the requests
answered (served or from the cache). The wait is arrival to admission (the start of
the step that prefills the request), including a wait at another tier before a
reroute. Utilisation is the share of replica time with at least one sequence in the
batch: busy time / (replicas × duration), the duration running from the first arrival
to the last arrival or completion.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from envelope.config.documents import Prices, Tier
from envelope.core.pricing import cost_usd
from envelope.sim.engine import Outcome, TierStats
from envelope.sim.trace import Arrival


@dataclass(frozen=True, slots=True)
class Percentiles:
    p50: float | None
    p95: float | None
    p99: float | None
    mean: float | None


@dataclass(frozen=True, slots=True)
class Group:
    """Requests of one route (or of all), by outcome, with their latencies in ms and cost."""

    name: str
    requests: int
    served: int
    cached: int
    shed: int
    rejected: int
    rerouted: int
    latency_ms: Percentiles
    ttft_ms: Percentiles
    wait_ms: Percentiles
    cost_usd: float


@dataclass(frozen=True, slots=True)
class TierLine:
    tier: Tier
    replicas: int
    served: int
    utilisation: float
    mean_batch: float
    mean_queue: float
    max_queue: int
    latency_ms: Percentiles
    wait_ms: Percentiles
    shed: int
    rerouted_out: int
    too_large: int
    cost_usd: float


@dataclass(frozen=True, slots=True)
class Report:
    duration_s: float
    overall: Group
    routes: list[Group]
    tiers: list[TierLine]
    cost_per_1k_requests: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def quantile(ordered: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default) of sorted values."""
    if not ordered:
        return None
    pos = (len(ordered) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def percentiles(values: Iterable[float]) -> Percentiles:
    ordered = sorted(values)
    mean = sum(ordered) / len(ordered) if ordered else None
    return Percentiles(quantile(ordered, 0.5), quantile(ordered, 0.95), quantile(ordered, 0.99), mean)


def summarise(
    outcome: Outcome, arrivals: Sequence[Arrival], prices: dict[Tier, Prices], notes: Sequence[str] = ()
) -> Report:
    """The report of a run; `arrivals` are the trace rows the plans were made from, in order."""
    costs = _costs(outcome, prices)
    everyone = range(len(outcome.plans))
    by_route: dict[str, list[int]] = {}
    for i, arrival in enumerate(arrivals):
        by_route.setdefault(arrival.route, []).append(i)
    overall = _group("all", everyone, outcome, costs)
    duration = outcome.horizon - min((p.t for p in outcome.plans), default=0.0)
    notes = [*notes, *_rejections(outcome)]
    return Report(
        duration_s=duration,
        overall=overall,
        routes=[_group(name, members, outcome, costs) for name, members in sorted(by_route.items())],
        tiers=[_tier(stats, outcome, costs, duration) for stats in outcome.tiers.values()],
        cost_per_1k_requests=1000.0 * overall.cost_usd / max(overall.requests, 1),
        notes=list(notes),
    )


def _rejections(outcome: Outcome) -> list[str]:
    """Why requests were refused before reaching a replica, if any were."""
    reasons: dict[str, int] = {}
    for plan in outcome.plans:
        if plan.rejected is not None:
            reasons[plan.rejected] = reasons.get(plan.rejected, 0) + 1
    out = []
    if reasons:
        listed = ", ".join(f"{reason} {count}" for reason, count in sorted(reasons.items()))
        out.append(f"rejected by the route or policy before any tier: {listed}")
    for stats in outcome.tiers.values():
        if stats.too_large:
            out.append(f"tier {stats.tier}: {stats.too_large} request(s) larger than a replica's KV cache, rejected")
    return out


def _costs(outcome: Outcome, prices: dict[Tier, Prices]) -> list[float]:
    out = [0.0] * len(outcome.plans)
    for i, plan in enumerate(outcome.plans):
        tier = outcome.tier[i]
        if outcome.status[i] == "served" and tier is not None:
            out[i] = cost_usd(prices[tier], input_tokens=plan.input_tokens, output_tokens=plan.output_tokens)
    return out


def _group(name: str, members: Iterable[int], outcome: Outcome, costs: list[float]) -> Group:
    ids = list(members)
    status = outcome.status
    answered = [i for i in ids if status[i] in ("served", "cached")]
    plans = outcome.plans
    return Group(
        name=name,
        requests=len(ids),
        served=sum(1 for i in ids if status[i] == "served"),
        cached=sum(1 for i in ids if status[i] == "cached"),
        shed=sum(1 for i in ids if status[i] == "shed"),
        rejected=sum(1 for i in ids if status[i] == "rejected"),
        rerouted=sum(1 for i in ids if outcome.rerouted[i]),
        latency_ms=percentiles(1000.0 * (outcome.done[i] - plans[i].t) for i in answered),
        ttft_ms=percentiles(1000.0 * (outcome.first_token[i] - plans[i].t) for i in answered),
        wait_ms=percentiles(1000.0 * (outcome.admitted[i] - plans[i].t) for i in answered),
        cost_usd=sum(costs[i] for i in ids),
    )


def _tier(stats: TierStats, outcome: Outcome, costs: list[float], duration: float) -> TierLine:
    ids = [i for i, tier in enumerate(outcome.tier) if tier == stats.tier and outcome.status[i] == "served"]
    plans = outcome.plans
    capacity = stats.replicas * duration
    queued = sum(b - a for a, b in zip(stats.queue_enter, stats.queue_leave, strict=True))
    return TierLine(
        tier=stats.tier,
        replicas=stats.replicas,
        served=len(ids),
        utilisation=stats.busy_s / capacity if capacity > 0 else 0.0,
        mean_batch=stats.batch_s / stats.busy_s if stats.busy_s > 0 else 0.0,
        mean_queue=queued / duration if duration > 0 else 0.0,
        max_queue=max_overlap(stats.queue_enter, stats.queue_leave),
        latency_ms=percentiles(1000.0 * (outcome.done[i] - plans[i].t) for i in ids),
        wait_ms=percentiles(1000.0 * (outcome.admitted[i] - plans[i].t) for i in ids),
        shed=stats.shed,
        rerouted_out=stats.rerouted_out,
        too_large=stats.too_large,
        cost_usd=sum(costs[i] for i in ids),
    )


def max_overlap(enter: Sequence[float], leave: Sequence[float]) -> int:
    """The most intervals [enter, leave) open at once."""
    events = sorted([(t, 1) for t in enter] + [(t, -1) for t in leave])  # at a tie, leaving (-1) sorts first
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most
