"""Experiment decisions (pure): stable weighted assignment, and when a canary is rolled back."""

from __future__ import annotations

from collections import Counter

from envelope.config.control import RollbackDoc
from envelope.core.experiment import Figures, assign, breach, bucket

RULE = RollbackDoc(min_requests=50, max_p95_ratio=1.5, max_error_rate_delta=0.02, max_guard_rate_delta=0.05)


def test_assignment_is_stable_and_follows_the_weights() -> None:
    points = [bucket("exp", f"key-{i}") for i in range(20_000)]
    assert points == [bucket("exp", f"key-{i}") for i in range(20_000)]
    assert all(0.0 <= p < 1.0 for p in points)
    arms = Counter(assign([90, 10], p) for p in points)
    assert abs(arms[1] / 20_000 - 0.10) < 0.01
    three = Counter(assign([1, 1, 2], p) for p in points)
    assert abs(three[2] / 20_000 - 0.5) < 0.015


def test_raising_a_canary_only_moves_units_into_the_candidate() -> None:
    points = [bucket("canary", f"key-{i}") for i in range(5_000)]
    at_10 = {i for i, p in enumerate(points) if assign([90, 10], p) == 1}
    at_30 = {i for i, p in enumerate(points) if assign([70, 30], p) == 1}
    assert at_10 < at_30


def test_experiments_split_units_independently() -> None:
    first = [assign([50, 50], bucket("one", f"k{i}")) for i in range(2_000)]
    second = [assign([50, 50], bucket("two", f"k{i}")) for i in range(2_000)]
    assert 0.4 < sum(a == b for a, b in zip(first, second, strict=True)) / 2_000 < 0.6


def test_zero_weights_send_everything_to_the_rest() -> None:
    assert {assign([1.0, 0.0], p / 100) for p in range(100)} == {0}


def test_a_young_candidate_is_not_judged() -> None:
    assert breach(Figures(500, 100.0, 0, 0), Figures(49, 900.0, 49, 49), RULE) is None


def test_a_slow_candidate_is_rolled_back() -> None:
    why = breach(Figures(500, 100.0, 0, 0), Figures(60, 160.0, 0, 0), RULE)
    assert why is not None and "p95 160 ms > 1.5 × control's 100 ms" in why
    assert breach(Figures(500, 100.0, 0, 0), Figures(60, 149.0, 0, 0), RULE) is None


def test_a_failing_candidate_is_rolled_back_relative_to_control() -> None:
    assert breach(Figures(500, 100.0, 10, 0), Figures(100, 100.0, 4, 0), RULE) is None  # 4 % vs 2 % + 2 %
    why = breach(Figures(500, 100.0, 10, 0), Figures(100, 100.0, 5, 0), RULE)
    assert why is not None and "error rate 5.0%" in why


def test_a_worse_answering_candidate_is_rolled_back() -> None:
    why = breach(Figures(500, 100.0, 0, 5), Figures(100, 100.0, 0, 7), RULE)
    assert why is not None and "guardrail failures 7.0%" in why
