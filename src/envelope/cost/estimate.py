"""The estimator's arithmetic: routed sample prompts → token burn and cost per day.

Pure. `planner.py` routes each sample with the gateway's own stages and prices it
(`PromptPlan`); `burn` scales the plans to a request rate. The samples stand for the
traffic in proportion to their weights (equal by default). A request answered from the
cache (`cache_hit_rate`, default 0) costs nothing and burns no upstream tokens; a
request the gateway would refuse (input too long, cost ceiling unmet) is counted as a
request and costs nothing. A month is 30 days.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from envelope.config.documents import BudgetDoc, Period, Tier
from envelope.core.admission import period_bounds, period_name

DAY_S = 86_400
DAYS_PER_MONTH = 30
OutputSource = Literal["given", "ledger", "max_tokens"]


@dataclass(frozen=True, slots=True)
class PromptPlan:
    """One sample as the gateway would serve it, and what it would cost."""

    preview: str
    weight: float
    input_tokens: int
    tokens_exact: bool
    policy_tier: Tier | None  # the tier the route's policy chose
    tier: Tier | None  # the tier of the model that would serve it
    model: str | None
    max_tokens: int  # the output allowance granted
    output_tokens: int  # expected
    output_source: OutputSource
    cost_usd: float  # per request, at the model's prices
    worst_case_usd: float
    rules: tuple[str, ...] = ()
    degradations: tuple[str, ...] = ()
    intent: str | None = None
    complexity: str | None = None
    risk: float | None = None
    refused: str | None = None  # the error code when the gateway would refuse it


def expected_output(
    granted: int, *, given: int | None = None, ledger_mean: float | None = None
) -> tuple[int, OutputSource]:
    """The answer's expected length: as given, else the ledger's mean, else all of
    `max_tokens` (an upper bound) — never more than the allowance granted."""
    if given is not None:
        return min(given, granted), "given"
    if ledger_mean is not None:
        return min(round(ledger_mean), granted), "ledger"
    return granted, "max_tokens"


@dataclass(frozen=True, slots=True)
class MixLine:
    """Requests served by one tier and model (tier and model None: refused)."""

    tier: Tier | None
    model: str | None
    share: float  # of all requests
    requests_per_day: float  # sent upstream (cache hits excluded)
    cost_per_day: float


@dataclass(frozen=True, slots=True)
class Burn:
    qps: float
    cache_hit_rate: float
    requests_per_day: float  # all requests
    upstream_per_day: float  # not answered from the cache, not refused
    refused_share: float
    input_tokens_per_day: float  # upstream
    output_tokens_per_day: float
    cost_per_request: float  # mean over the samples, as a cache miss
    cost_per_day: float
    cost_per_month: float
    mix: tuple[MixLine, ...]


def burn(plans: Sequence[PromptPlan], *, qps: float, cache_hit_rate: float = 0.0) -> Burn:
    """The plans at `qps` requests a second, a share `cache_hit_rate` answered from the cache."""
    if not plans:
        raise ValueError("no prompts to estimate from")
    if qps <= 0:
        raise ValueError(f"qps must be positive, got {qps}")
    if not 0 <= cache_hit_rate < 1:
        raise ValueError(f"cache_hit_rate must be in [0, 1), got {cache_hit_rate}")
    total_weight = sum(p.weight for p in plans)
    share = [p.weight / total_weight for p in plans]
    per_day = qps * DAY_S
    misses = per_day * (1 - cache_hit_rate)
    served = [(s, p) for s, p in zip(share, plans, strict=True) if p.refused is None]
    cost = sum(s * p.cost_usd for s, p in served)
    mix: dict[tuple[Tier | None, str | None], tuple[float, float]] = {}
    for s, p in zip(share, plans, strict=True):
        key = (p.tier, p.model) if p.refused is None else (None, None)
        was_share, was_cost = mix.get(key, (0.0, 0.0))
        mix[key] = (was_share + s, was_cost + s * (p.cost_usd if p.refused is None else 0.0))
    refused = mix.get((None, None), (0.0, 0.0))[0]
    return Burn(
        qps=qps,
        cache_hit_rate=cache_hit_rate,
        requests_per_day=per_day,
        upstream_per_day=misses * (1 - refused),
        refused_share=refused,
        input_tokens_per_day=misses * sum(s * p.input_tokens for s, p in served),
        output_tokens_per_day=misses * sum(s * p.output_tokens for s, p in served),
        cost_per_request=cost,
        cost_per_day=misses * cost,
        cost_per_month=misses * cost * DAYS_PER_MONTH,
        mix=tuple(
            MixLine(tier, model, s, misses * s if model is not None else 0.0, misses * c)
            for (tier, model), (s, c) in sorted(mix.items(), key=_mix_order)
        ),
    )


def _mix_order(item: tuple[tuple[Tier | None, str | None], tuple[float, float]]) -> tuple[int, str]:
    (tier, model), _ = item
    return ("SML".index(tier) if tier is not None else 3), model or ""


@dataclass(frozen=True, slots=True)
class BudgetOutlook:
    """The feature's spend against a tenant's budget, the feature alone."""

    period: Period | str
    period_days: float
    hard_usd: float | None
    soft_usd: float | None
    cost_per_period: float
    share_of_hard: float | None  # of the hard limit, per period
    days_to_hard: float | None  # days until the feature alone spends a whole hard limit
    days_to_soft: float | None


def outlook(budget: BudgetDoc, cost_per_day: float, *, now: float) -> BudgetOutlook:
    start, end = period_bounds(budget, now)
    days = (end - start) / DAY_S
    per_period = cost_per_day * days

    def days_to(limit: float | None) -> float | None:
        return limit / cost_per_day if limit is not None and cost_per_day > 0 else None

    return BudgetOutlook(
        period=period_name(budget),
        period_days=days,
        hard_usd=budget.hard_usd,
        soft_usd=budget.soft_usd,
        cost_per_period=per_period,
        share_of_hard=per_period / budget.hard_usd if budget.hard_usd else None,
        days_to_hard=days_to(budget.hard_usd),
        days_to_soft=days_to(budget.soft_usd),
    )


def ledger_means(lines: Mapping[str | None, tuple[int, int]]) -> dict[str | None, float]:
    """Mean output tokens per successful request, per model (None: the whole route), from
    (successful requests, output tokens) pairs; models without a success are left out."""
    return {model: tokens / ok for model, (ok, tokens) in lines.items() if ok > 0}
