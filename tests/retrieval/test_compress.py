"""Context compression: duplicates dropped, the budget always kept, relevant sentences
preferred, order kept."""

from __future__ import annotations

from envelope.retrieval.compress import Passage, compress


def words(text: str) -> int:
    return len(text.split())


MEALS = Passage(
    "Travel is booked through the portal. Meals are reimbursed up to 45 euros per day. Parking is free.", 0.8, "exp"
)
TAXI = Passage("Taxis are reimbursed after 22:00. Receipts are kept for ten years.", 0.6, "taxi")


def test_everything_fits_uncompressed_in_score_order() -> None:
    context = compress("meals", [TAXI, MEALS], budget_tokens=500, count=words)
    assert not context.compressed and context.sentences_dropped == 0
    assert context.text.startswith("[1] (source: exp)\nTravel is booked") and "[2] (source: taxi)" in context.text
    assert context.sources == ("exp", "taxi") and context.tokens == words(context.text)


def test_duplicates_and_repeated_sentences_are_dropped() -> None:
    copy = Passage(MEALS.text + " ", 0.7, "copy")
    overlap = Passage("Meals are reimbursed up to 45 euros per day. Hotels need approval.", 0.5, "hotel")
    context = compress("meals", [MEALS, copy, overlap], budget_tokens=500, count=words)
    assert context.duplicates_dropped == 2  # the copy, and the repeated sentence
    assert context.text.count("45 euros") == 1 and "Hotels need approval." in context.text


def test_the_budget_is_kept_and_relevant_sentences_win() -> None:
    for budget in range(0, 60):
        context = compress("How much are meals reimbursed per day?", [MEALS, TAXI], budget_tokens=budget, count=words)
        assert context.tokens <= budget
        if 12 <= budget < 20:  # room for the best sentence (12 words rendered), not for all
            assert "45 euros" in context.text  # the question's sentence goes first
    tight = compress("How much are meals reimbursed per day?", [MEALS, TAXI], budget_tokens=13, count=words)
    assert tight.compressed and tight.sentences_dropped > 0
    assert tight.text == "[1] (source: exp)\nMeals are reimbursed up to 45 euros per day."


def test_kept_sentences_stay_in_their_order() -> None:
    context = compress("travel parking", [MEALS], budget_tokens=18, count=words)
    assert context.text.index("Travel") < context.text.index("Parking")


def test_nothing_in_nothing_out() -> None:
    context = compress("q", [], budget_tokens=100, count=words)
    assert context.text == "" and context.tokens == 0 and context.sources == ()
