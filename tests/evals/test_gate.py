"""The regression gate: each rule fires on its own, at the documented boundary."""

from __future__ import annotations

from envelope.evals import results
from envelope.evals.gate import GateRule, decide
from envelope.evals.results import ItemResult, RunReport
from tests.evals.test_results import item


def run(*items: ItemResult) -> RunReport:
    return results.report(list(items), created="t", base_url="u", golden=[])


def faq(passed: list[bool], *, judge: float | None = None, prefix: str = "f") -> list[ItemResult]:
    return [
        item(
            f"{prefix}{i}",
            "faq",
            passed=ok,
            scores={"contains": 1.0 if ok else 0.0, **({"judge": judge} if judge is not None else {})},
        )
        for i, ok in enumerate(passed)
    ]


def test_the_same_results_pass() -> None:
    base = run(*faq([True, True, False]))
    verdict = decide(run(*faq([True, True, False])), base, GateRule())
    assert verdict.passed and verdict.regressions == () and verdict.notes == ()


def test_an_item_that_passed_and_now_fails_is_a_regression_even_within_max_drop() -> None:
    base = run(*faq([True] * 20 + [False]))
    now = run(*faq([True] * 19 + [False, True]))  # same pass rate: f19 fails, f20 now passes
    verdict = decide(now, base, GateRule(max_drop=0.5))
    assert not verdict.passed
    (finding,) = verdict.regressions
    assert (finding.kind, finding.item, finding.intent) == ("item", "f19", "faq")
    assert finding.message.startswith("item f19 (faq) passed in the baseline, fails now: contains:")


def test_an_item_that_failed_before_may_still_fail() -> None:
    assert decide(run(*faq([True, False])), run(*faq([True, False])), GateRule()).passed


def test_a_pass_rate_drop_beyond_max_drop_is_a_regression() -> None:
    base = run(*faq([True] * 10, prefix="a"))
    now = run(*faq([True] * 9 + [False], prefix="b"))  # new ids: only the rate compares
    verdict = decide(now, base, GateRule(max_drop=0.1))
    assert verdict.passed  # exactly 10 points: allowed
    verdict = decide(now, base, GateRule(max_drop=0.05))
    kinds = {(f.kind, f.intent) for f in verdict.regressions}
    assert ("pass_rate", "faq") in kinds
    assert ("score", "faq") in kinds  # the contains mean fell by as much
    assert any("pass rate 100.0% → 90.0%" in f.message for f in verdict.regressions)


def test_a_scorer_mean_drop_beyond_max_drop_is_a_regression() -> None:
    base = run(*faq([True, True], judge=0.9))
    now = run(*faq([True, True], judge=0.8))
    verdict = decide(now, base, GateRule(max_drop=0.05))
    (finding,) = verdict.regressions
    assert finding.kind == "score" and "mean judge score 0.900 → 0.800" in finding.message
    assert decide(now, base, GateRule(max_drop=0.1)).passed
    assert decide(run(*faq([True, True], judge=1.0)), base, GateRule(max_drop=0.0)).passed  # a rise is fine


def test_intents_scorers_and_items_in_one_run_only_are_notes() -> None:
    base = run(*faq([True]), item("m1", "math"))
    now = run(*faq([True], judge=0.1), item("c1", "coding", passed=False))
    verdict = decide(now, base, GateRule())
    assert verdict.passed
    assert "intent coding: not in the baseline" in verdict.notes
    assert "intent math: in the baseline, not run" in verdict.notes
    assert "1 item(s) not in the baseline: c1" in verdict.notes
    assert "1 baseline item(s) not run: m1" in verdict.notes


def test_min_pass_rate_applies_with_or_without_a_baseline() -> None:
    now = run(*faq([True, True, False]))
    assert decide(now, None, GateRule()).passed  # no baseline, no minimum: report only
    assert decide(now, None, GateRule(min_pass_rate=2 / 3)).passed
    verdict = decide(now, None, GateRule(min_pass_rate=0.7))
    (finding,) = verdict.regressions
    assert finding.kind == "min_pass_rate" and "66.7% is below the minimum 70.0%" in finding.message
    assert not decide(now, now, GateRule(min_pass_rate=0.9)).passed
