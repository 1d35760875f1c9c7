"""The replay gate: did the candidate config do worse than the baseline on the same
recorded traffic? Pure functions over the replayed pairs.

Each scope — every route, and all requests together — compares the two sides:

    p95 latency      of answered requests (the gateway's x-envelope-latency-ms, else the
                     client's clock); a regression when candidate > baseline × (1 +
                     max_p95_increase) *and* the difference exceeds `p95_slack_ms` (a
                     few milliseconds of scheduling noise on a fast upstream are not 10 %)
    mean cost        per request that reported one (x-envelope-cost-usd); a regression
                     when candidate > baseline × (1 + max_cost_increase)
    error rate       requests without an answer; a regression when candidate > baseline
                     + max_error_increase (an absolute difference: 0.02 = 2 points)
    similarity       mean cosine of the two answers to the same request (identical texts
                     are 1.0); a regression when below `min_similarity`

The overall scope is always gated, except that its p95 needs `min_requests` answered
requests on each side: the p95 of fewer than 20 values is their maximum, one slow
request. A route is gated (every rule) only with at least `min_requests` requests;
smaller routes are shown, and count in the overall scope. The tier mix (share of
answers per model tier) is reported, never gated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from envelope.evals.results import percentile

OVERALL = "all"
_EPSILON = 1e-12  # float noise: a cost equal to the limit is allowed

Rule = Literal["p95", "cost", "errors", "similarity"]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """How much worse the candidate may be (the CLI's --max-* and --min-* options)."""

    max_p95_increase: float = 0.10
    max_cost_increase: float = 0.10
    max_error_increase: float = 0.02
    min_similarity: float = 0.80
    min_requests: int = 10
    p95_slack_ms: float = 25.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """One replayed request on one side: an answer (status 200, `error` None) or not."""

    latency_ms: float
    status: int | None = None  # None: no HTTP answer at all
    error: str | None = None
    cost_usd: float | None = None
    model: str | None = None
    tier: str | None = None

    @property
    def answered(self) -> bool:
        return self.error is None and self.status == 200


@dataclass(frozen=True, slots=True)
class Pair:
    """One recorded request replayed against both configs."""

    sample_id: str
    route: str
    baseline: Outcome
    candidate: Outcome
    similarity: float | None = None  # None unless both sides answered


@dataclass(frozen=True, slots=True)
class Side:
    """One config's figures over a scope."""

    requests: int
    errors: int
    error_rate: float
    answered: int
    p95_latency_ms: float | None
    mean_cost_usd: float | None
    tiers: dict[str, float]  # tier → share of the answers


@dataclass(frozen=True, slots=True)
class Finding:
    """One reason the candidate regresses."""

    rule: Rule
    scope: str  # a route, or OVERALL
    message: str


@dataclass(frozen=True, slots=True)
class Comparison:
    """Baseline and candidate over one scope, and what the gate found there."""

    scope: str
    requests: int
    baseline: Side
    candidate: Side
    similarity: float | None  # mean over the pairs both sides answered
    gated: bool  # False: too few requests to judge this route by itself
    findings: tuple[Finding, ...]


@dataclass(frozen=True, slots=True)
class Verdict:
    overall: Comparison
    routes: tuple[Comparison, ...]  # in route name order

    @property
    def regressions(self) -> tuple[Finding, ...]:
        return self.overall.findings + tuple(f for route in self.routes for f in route.findings)

    @property
    def passed(self) -> bool:
        return not self.regressions


def decide(pairs: Sequence[Pair], thresholds: Thresholds) -> Verdict:
    """Compare the two sides per route and overall; the findings are the regressions."""
    by_route: dict[str, list[Pair]] = {}
    for pair in pairs:
        by_route.setdefault(pair.route, []).append(pair)
    routes = tuple(
        compare(name, group, thresholds, gated=len(group) >= thresholds.min_requests)
        for name, group in sorted(by_route.items())
    )
    return Verdict(compare(OVERALL, pairs, thresholds, gated=True), routes)


def compare(scope: str, pairs: Sequence[Pair], thresholds: Thresholds, *, gated: bool) -> Comparison:
    """One scope's comparison; `gated` False reports it without findings."""
    baseline = side(p.baseline for p in pairs)
    candidate = side(p.candidate for p in pairs)
    scores = [p.similarity for p in pairs if p.similarity is not None]
    similarity = sum(scores) / len(scores) if scores else None
    findings: list[Finding] = []
    if gated:
        findings.extend(_p95(scope, baseline, candidate, thresholds))
        findings.extend(_cost(scope, baseline, candidate, thresholds.max_cost_increase))
        findings.extend(_errors(scope, baseline, candidate, thresholds.max_error_increase))
        if similarity is not None and similarity < thresholds.min_similarity - _EPSILON:
            message = f"{scope}: mean answer similarity {similarity:.3f} is below {thresholds.min_similarity:.2f}"
            findings.append(Finding("similarity", scope, message))
    return Comparison(scope, len(pairs), baseline, candidate, similarity, gated, tuple(findings))


def side(outcomes: Iterable[Outcome]) -> Side:
    """The figures of one side's outcomes."""
    found = list(outcomes)
    answered = [o for o in found if o.answered]
    costs = [o.cost_usd for o in found if o.cost_usd is not None]
    errors = len(found) - len(answered)
    tiers = Counter(o.tier or "?" for o in answered)
    return Side(
        requests=len(found),
        errors=errors,
        error_rate=errors / len(found) if found else 0.0,
        answered=len(answered),
        p95_latency_ms=percentile([o.latency_ms for o in answered], 0.95),
        mean_cost_usd=sum(costs) / len(costs) if costs else None,
        tiers={tier: count / len(answered) for tier, count in sorted(tiers.items())},
    )


def _p95(scope: str, baseline: Side, candidate: Side, thresholds: Thresholds) -> list[Finding]:
    before, now = baseline.p95_latency_ms, candidate.p95_latency_ms
    if before is None or now is None or min(baseline.answered, candidate.answered) < thresholds.min_requests:
        return []
    limit = before * (1 + thresholds.max_p95_increase)
    if now <= limit + _EPSILON or now - before <= thresholds.p95_slack_ms:
        return []
    message = (
        f"{scope}: p95 latency {before:.0f} ms → {now:.0f} ms ({_change(before, now)}; "
        f"allowed +{thresholds.max_p95_increase:.0%})"
    )
    return [Finding("p95", scope, message)]


def _cost(scope: str, baseline: Side, candidate: Side, max_increase: float) -> list[Finding]:
    before, now = baseline.mean_cost_usd, candidate.mean_cost_usd
    if before is None or now is None or now <= before * (1 + max_increase) + _EPSILON:
        return []
    message = (
        f"{scope}: mean cost per request ${before:.6f} → ${now:.6f} ({_change(before, now)}; "
        f"allowed +{max_increase:.0%})"
    )
    return [Finding("cost", scope, message)]


def _errors(scope: str, baseline: Side, candidate: Side, max_increase: float) -> list[Finding]:
    if candidate.error_rate <= baseline.error_rate + max_increase + _EPSILON:
        return []
    message = (
        f"{scope}: error rate {baseline.error_rate:.1%} → {candidate.error_rate:.1%} "
        f"({candidate.errors} of {candidate.requests} failed; allowed +{max_increase * 100:.1f} points)"
    )
    return [Finding("errors", scope, message)]


def _change(before: float, now: float) -> str:
    return f"{now / before - 1:+.0%}" if before > 0 else "was 0"
