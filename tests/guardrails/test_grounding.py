"""Groundedness of answers against retrieved context, with hand-made vectors."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from envelope.guardrails.grounding import Grounding, claims, context_units, groundedness


def unit(*rows: list[float]) -> NDArray[np.float32]:
    matrix = np.array(rows, dtype=np.float32).reshape(len(rows), -1)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms == 0, 1, norms)).astype(np.float32)


def test_claims_keep_statements_and_drop_filler() -> None:
    answer = (
        "Sure, I can help with that! The Basic plan costs $5 per month. It includes 10 GB of storage. "
        "Refunds take 30 days. OK. Would you like me to compare it with the Pro plan? "
        "I hope this helps! Let me know if you have other questions."
    )
    assert claims(answer) == [
        "The Basic plan costs $5 per month.",
        "It includes 10 GB of storage.",
        "Refunds take 30 days.",
    ]


def test_claims_split_list_items_and_skip_code_and_lead_ins() -> None:
    answer = (
        "Here are the key points:\n"
        "- The API rate limit is 60 requests per minute\n"
        "- Keys rotate every 90 days\n"
        "1. Errors are retried three times\n\n"
        "```python\nclient = Client(api_key='x')  # This line is code, not a claim.\n```\n\n"
        "## Summary\n\n"
        "That’s a great question, thanks for asking."
    )
    assert claims(answer) == [
        "The API rate limit is 60 requests per minute",
        "Keys rotate every 90 days",
        "Errors are retried three times",
    ]


@pytest.mark.parametrize(
    "filler",
    [
        "Hello there!",
        "I'd be happy to help with your question.",
        "Is there anything else I can do for you?",
        "Feel free to reach out with more questions.",
        "If you have any more questions, just ask.",
        "Good question, and a common one.",
        "Please note that I am an AI assistant.",
    ],
)
def test_boilerplate_is_not_a_claim(filler: str) -> None:
    assert claims(filler) == []


def test_context_units_pair_each_sentence_with_its_neighbour() -> None:
    context = "The Basic plan is for individuals. It costs $5 a month. Storage is capped at 10 GB."
    assert context_units(context) == [
        "The Basic plan is for individuals. It costs $5 a month.",
        "It costs $5 a month. Storage is capped at 10 GB.",
    ]
    assert context_units(context, window=1) == [
        "The Basic plan is for individuals.",
        "It costs $5 a month.",
        "Storage is capped at 10 GB.",
    ]
    assert context_units("Only one sentence here.") == ["Only one sentence here."]
    assert context_units("   ") == []
    with pytest.raises(ValueError, match="window"):
        context_units(context, window=0)


def test_groundedness_counts_supported_claims_and_names_the_weakest() -> None:
    texts = ["costs five dollars", "ten gigabytes", "ships to Mars"]
    claim_vectors = unit([1, 0, 0], [0.1, 1, 0], [0.2, 0.2, 1])
    context_vectors = unit([1, 0.1, 0], [0, 1, 0])
    result = groundedness(texts, claim_vectors, context_vectors, support=0.5)
    assert (result.supported, result.checked, result.weakest) == (2, 3, "ships to Mars")
    assert result.score == pytest.approx(2 / 3)


def test_support_threshold_is_inclusive() -> None:
    claim_vectors = unit([1, 0])
    context_vectors = unit([0.5, np.sqrt(0.75)])  # cosine exactly 0.5 with the claim
    result = groundedness(["one claim here"], claim_vectors, context_vectors, support=0.49999)
    assert result.supported == 1
    assert groundedness(["one claim here"], claim_vectors, context_vectors, support=0.6).supported == 0


def test_no_claims_scores_one() -> None:
    empty = np.zeros((0, 3), dtype=np.float32)
    assert groundedness([], empty, unit([1, 0, 0])) == Grounding(1.0, 0, 0, None)


def test_no_context_scores_zero() -> None:
    result = groundedness(["a b c d"], unit([1, 0, 0]), np.zeros((0, 3), dtype=np.float32))
    assert (result.score, result.supported, result.checked, result.weakest) == (0.0, 0, 1, "a b c d")


def test_nan_vectors_count_as_unsupported() -> None:
    claim_vectors = np.array([[np.nan, np.nan], [1, 0]], dtype=np.float32)
    result = groundedness(["broken", "fine"], claim_vectors, unit([1, 0]))
    assert (result.supported, result.weakest) == (1, "broken")


@pytest.mark.parametrize(
    ("texts", "claim_vectors", "context_vectors", "message"),
    [
        (["a", "b"], unit([1, 0]), unit([1, 0]), "2 claims but 1"),
        (["a"], unit([1, 0]), unit([1, 0, 0]), "dimension"),
        (["a"], np.ones(2, dtype=np.float32), unit([1, 0]), "2-D"),
    ],
)
def test_mismatched_inputs_are_rejected(
    texts: list[str], claim_vectors: NDArray[np.float32], context_vectors: NDArray[np.float32], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        groundedness(texts, claim_vectors, context_vectors)
