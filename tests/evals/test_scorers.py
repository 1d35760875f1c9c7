"""The pure scorers: each passes what it should and fails what it should."""

from __future__ import annotations

import pytest

from envelope.evals import scorers
from envelope.evals.documents import (
    ContainsCheck,
    ExactCheck,
    GroundedCheck,
    JsonSchemaCheck,
    JudgeCheck,
    RegexCheck,
    SimilarityCheck,
)
from envelope.guardrails.grounding import Grounding

PERSON = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}


def test_exact_ignores_the_ends_and_case_only_when_asked() -> None:
    assert scorers.exact(ExactCheck(exact="Paris"), "  Paris\n").passed
    assert not scorers.exact(ExactCheck(exact="Paris"), "paris").passed
    assert scorers.exact(ExactCheck(exact="Paris", case_sensitive=False), "PARIS").passed
    failed = scorers.exact(ExactCheck(exact="Paris"), "Paris, France")
    assert (failed.value, failed.passed, failed.scorer) == (0.0, False, "exact")
    assert "expected exactly 'Paris'" in failed.detail


def test_contains_needs_every_text_and_scores_the_share_found() -> None:
    check = ContainsCheck(contains=["Paris", "France", "Seine"])
    half = scorers.contains(check, "paris is in FRANCE")
    assert not half.passed and half.value == pytest.approx(2 / 3)
    assert half.detail == "missing 'Seine'"
    assert scorers.contains(check, "Paris, France, on the Seine").passed
    assert scorers.contains(ContainsCheck(contains="Paris"), "PARIS").passed  # case-insensitive by default
    assert not scorers.contains(ContainsCheck(contains="Paris", case_sensitive=True), "PARIS").passed


def test_regex_searches_anywhere_with_inline_flags() -> None:
    assert scorers.regex(RegexCheck(regex=r"\b4\b"), "2 + 2 = 4.").detail == "matched '4'"
    assert not scorers.regex(RegexCheck(regex=r"\b4\b"), "2 + 2 = 42").passed
    assert scorers.regex(RegexCheck(regex=r"(?i)^hello"), "HELLO there").passed


def test_json_schema_reads_json_in_the_answer_and_names_the_problem() -> None:
    check = JsonSchemaCheck(json_schema=PERSON)
    assert scorers.json_schema(check, '{"age": 3}').passed
    assert scorers.json_schema(check, 'Here:\n```json\n{"age": 3}\n```').passed
    wrong = scorers.json_schema(check, '{"age": "three"}')
    assert not wrong.passed and "at $.age" in wrong.detail
    assert "not valid JSON" in scorers.json_schema(check, "no json here").detail


def test_similarity_passes_at_the_threshold_and_clips_its_value() -> None:
    check = SimilarityCheck(similar_to="x", min_similarity=0.8)
    assert scorers.similarity(check, 0.8).passed
    below = scorers.similarity(check, 0.79)
    assert not below.passed and below.value == pytest.approx(0.79) and "0.790" in below.detail
    assert scorers.similarity(check, -0.2).value == 0.0


def test_grounding_passes_on_the_share_of_supported_claims() -> None:
    check = GroundedCheck(grounded=True, min_score=0.5)
    assert scorers.grounding(check, Grounding(score=0.5, supported=1, checked=2, weakest="b")).passed
    failed = scorers.grounding(check, Grounding(score=0.25, supported=1, checked=4, weakest="The moon is cheese."))
    assert not failed.passed and failed.value == 0.25
    assert "1/4 claims supported" in failed.detail and "The moon is cheese." in failed.detail


@pytest.mark.parametrize(
    ("grade", "value", "passed"), [(1, 0.0, False), (3, 0.5, False), (4, 0.75, True), (5, 1.0, True)]
)
def test_a_judge_grade_maps_onto_zero_to_one(grade: int, value: float, passed: bool) -> None:
    score = scorers.judged(JudgeCheck(judge="polite"), grade, "because")
    assert (score.value, score.passed) == (value, passed)
    assert score.detail.startswith(f"grade {grade}/5 (min 4): because")


def test_unscored_is_a_failure_with_its_reason() -> None:
    score = scorers.unscored(JudgeCheck(judge="x", weight=2), "the judge said nothing")
    assert (score.value, score.passed, score.weight, score.error) == (0.0, False, 2.0, "the judge said nothing")
    assert not scorers.item_passed([score])


def test_item_score_is_the_weighted_mean_and_passing_needs_every_check() -> None:
    good = scorers.contains(ContainsCheck(contains="a", weight=3), "a")
    bad = scorers.contains(ContainsCheck(contains="b"), "a")
    assert scorers.item_score([good, bad]) == pytest.approx(0.75)
    assert not scorers.item_passed([good, bad])
    assert scorers.item_passed([good])
    assert not scorers.item_passed([])
    assert scorers.item_score([]) == 0.0


def test_score_text_leaves_the_measured_scorers_to_the_grader() -> None:
    assert scorers.score_text(ContainsCheck(contains="a"), "a") is not None
    assert scorers.score_text(SimilarityCheck(similar_to="a"), "a") is None
    assert scorers.score_text(JudgeCheck(judge="a"), "a") is None
