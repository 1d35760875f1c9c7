"""The replay gate's rules, one at a time, on made-up pairs (pure: no gateway)."""

from __future__ import annotations

from collections.abc import Sequence

from envelope.evals.replay_gate import OVERALL, Outcome, Pair, Thresholds, decide

RULES = Thresholds()  # +10 % p95, +10 % cost, +2 points of errors, similarity 0.80, 10 requests, 25 ms slack


def answered(latency_ms: float = 100.0, cost_usd: float = 0.001, tier: str = "M") -> Outcome:
    return Outcome(latency_ms=latency_ms, status=200, cost_usd=cost_usd, model="m", tier=tier)


def failed(latency_ms: float = 5.0) -> Outcome:
    return Outcome(latency_ms=latency_ms, status=502, error="HTTP 502: upstream down", cost_usd=0.0)


def pairs(
    baseline: Sequence[Outcome], candidate: Sequence[Outcome], route: str = "default", similarity: float | None = 1.0
) -> list[Pair]:
    return [
        Pair(f"{route}-{i}", route, b, c, similarity if b.answered and c.answered else None)
        for i, (b, c) in enumerate(zip(baseline, candidate, strict=True))
    ]


def latencies(*values: float) -> list[Outcome]:
    return [answered(latency_ms=v) for v in values]


def rules_found(found: Sequence[Pair], thresholds: Thresholds = RULES) -> set[tuple[str, str]]:
    return {(f.rule, f.scope) for f in decide(found, thresholds).regressions}


def test_identical_runs_pass() -> None:
    same = [answered(latency_ms=100 + i, cost_usd=0.001 * (i % 3 + 1)) for i in range(30)]
    verdict = decide(pairs(same, same), RULES)
    assert verdict.passed and verdict.regressions == ()
    overall = verdict.overall
    assert overall.scope == OVERALL and overall.requests == 30 and overall.similarity == 1.0 and overall.gated
    assert overall.baseline == overall.candidate
    assert [r.scope for r in verdict.routes] == ["default"]


def test_p95_regression_overall_and_on_the_route() -> None:
    base = latencies(*range(100, 120))  # p95 (nearest rank of 20) = 118
    verdict = decide(pairs(base, latencies(*range(150, 170))), RULES)  # p95 168: +42 %
    assert {(f.rule, f.scope) for f in verdict.regressions} == {("p95", OVERALL), ("p95", "default")}
    assert verdict.overall.baseline.p95_latency_ms == 118 and verdict.overall.candidate.p95_latency_ms == 168
    assert "p95 latency 118 ms → 168 ms (+42%; allowed +10%)" in verdict.regressions[0].message


def test_p95_within_the_allowed_increase_passes() -> None:
    base = latencies(*[1000.0] * 20)
    assert rules_found(pairs(base, latencies(*[1100.0] * 20))) == set()  # exactly +10 %
    assert rules_found(pairs(base, latencies(*[1101.0] * 20))) == {("p95", OVERALL), ("p95", "default")}


def test_p95_rise_within_the_slack_is_noise() -> None:
    base = latencies(*[10.0] * 20)
    assert rules_found(pairs(base, latencies(*[30.0] * 20))) == set()  # +200 %, but only 20 ms
    assert rules_found(pairs(base, latencies(*[40.0] * 20))) == {("p95", OVERALL), ("p95", "default")}
    strict = Thresholds(p95_slack_ms=0.0)
    assert rules_found(pairs(base, latencies(*[30.0] * 20)), strict) == {("p95", OVERALL), ("p95", "default")}


def test_a_route_with_too_few_requests_is_shown_not_gated() -> None:
    busy = pairs(latencies(*[100.0] * 12), latencies(*[100.0] * 12), route="busy")
    quiet = pairs(latencies(*[100.0] * 4), latencies(*[900.0] * 4), route="quiet")
    verdict = decide(busy + quiet, RULES)
    routes = {r.scope: r for r in verdict.routes}
    assert routes["busy"].gated and not routes["quiet"].gated and routes["quiet"].findings == ()
    assert routes["quiet"].candidate.p95_latency_ms == 900
    # The quiet route's requests still count overall: 4 of 16 slow lifts the overall p95.
    assert {(f.rule, f.scope) for f in verdict.regressions} == {("p95", OVERALL)}


def test_the_overall_p95_needs_the_minimum_of_answers_on_both_sides() -> None:
    few = pairs(latencies(*[100.0] * 9), latencies(*[900.0] * 9))
    assert rules_found(few) == set()
    assert rules_found(few, Thresholds(min_requests=9)) == {("p95", OVERALL), ("p95", "default")}
    # Failed requests are not answers: 12 requests, 9 answered on the candidate's side.
    mixed = pairs(latencies(*[100.0] * 12), [*latencies(*[900.0] * 9), *[failed()] * 3])
    assert ("p95", OVERALL) not in rules_found(mixed)


def test_failed_requests_do_not_count_in_the_p95() -> None:
    base = latencies(*[100.0] * 20)
    cand = [*latencies(*[100.0] * 19), failed(latency_ms=60_000.0)]
    verdict = decide(pairs(base, cand), Thresholds(max_error_increase=1.0))
    assert verdict.overall.candidate.p95_latency_ms == 100.0 and verdict.passed


def test_cost_regression() -> None:
    base = [answered(cost_usd=0.001)] * 5
    assert rules_found(pairs(base, [answered(cost_usd=0.0011)] * 5)) == set()  # exactly +10 %
    found = decide(pairs(base, [answered(cost_usd=0.003)] * 5), RULES)
    # Five requests: below the route minimum, but cost is gated overall whatever the count.
    assert [(f.rule, f.scope) for f in found.regressions] == [("cost", OVERALL)]
    assert "mean cost per request $0.001000 → $0.003000 (+200%; allowed +10%)" in found.regressions[0].message


def test_a_cost_where_there_was_none_is_a_regression() -> None:
    found = decide(pairs([answered(cost_usd=0.0)] * 3, [answered(cost_usd=0.0001)] * 3), RULES)
    assert [f.rule for f in found.regressions] == ["cost"] and "was 0" in found.regressions[0].message


def test_error_rate_regression_is_an_absolute_rise() -> None:
    base = [answered()] * 100
    one_in_a_hundred = [*[answered()] * 99, failed()]
    assert rules_found(pairs(base, one_in_a_hundred)) == set()  # +1 point
    three = [*[answered()] * 97, *[failed()] * 3]
    assert rules_found(pairs(base, three)) == {("errors", OVERALL), ("errors", "default")}
    # The baseline failing as often is no regression.
    assert rules_found(pairs(three, three)) == set()


def test_similarity_below_the_minimum_regresses() -> None:
    same = [answered()] * 10
    assert rules_found(pairs(same, same, similarity=0.8)) == set()
    found = decide(pairs(same, same, similarity=0.62), RULES)
    assert {(f.rule, f.scope) for f in found.regressions} == {("similarity", OVERALL), ("similarity", "default")}
    assert "mean answer similarity 0.620 is below 0.80" in found.regressions[0].message


def test_no_answers_means_no_similarity_and_the_error_rule_decides() -> None:
    verdict = decide(pairs([answered()] * 10, [failed()] * 10), RULES)
    assert verdict.overall.similarity is None
    assert {f.rule for f in verdict.regressions} == {"errors"}


def test_tier_mix_is_reported_not_gated() -> None:
    base = [answered(tier="M")] * 10
    cand = [*[answered(tier="S")] * 7, *[answered(tier="M")] * 3]
    verdict = decide(pairs(base, cand), RULES)
    assert verdict.passed
    assert verdict.overall.baseline.tiers == {"M": 1.0}
    assert verdict.overall.candidate.tiers == {"M": 0.3, "S": 0.7}


def test_findings_come_overall_first_then_by_route_name() -> None:
    slow = latencies(*[900.0] * 10)
    found = pairs(latencies(*[100.0] * 10), slow, route="b") + pairs(latencies(*[100.0] * 10), slow, route="a")
    assert [f.scope for f in decide(found, RULES).regressions] == [OVERALL, "a", "b"]
