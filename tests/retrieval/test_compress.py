"""Context compression: duplicates dropped, the budget always kept, relevant sentences
preferred, order kept."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from envelope.retrieval.compress import Context, Passage, compress


def words(text: str) -> int:
    return len(text.split())


def chars(text: str) -> int:
    return len(text)


MEALS = Passage(
    "Travel is booked through the portal. Meals are reimbursed up to 45 euros per day. Parking is free.", 0.8, "exp"
)
TAXI = Passage("Taxis are reimbursed after 22:00. Receipts are kept for ten years.", 0.6, "taxi")
HOTEL = Passage("Hotels need approval from a manager. The approval takes two days.", 0.7, "hotel")
QUESTION = "How much are meals reimbursed per day?"
BLOCK = re.compile(r"\[(\d+)\] \(source: ([^)]*)\)\n(.+)")


def blocks(context: Context) -> list[tuple[int, str, str]]:
    """The rendered passages: number, source, body; and the format checked on the way."""
    found = []
    for block in context.text.split("\n\n") if context.text else []:
        match = BLOCK.fullmatch(block)
        assert match, block
        found.append((int(match.group(1)), match.group(2), match.group(3)))
    assert [number for number, _, _ in found] == list(range(1, len(found) + 1))
    assert tuple(source for _, source, _ in found) == context.sources
    return found


def test_everything_fits_uncompressed_in_score_order() -> None:
    context = compress("meals", [TAXI, MEALS, HOTEL], budget_tokens=500, count=words)
    assert not context.compressed and context.sentences_dropped == 0 and context.duplicates_dropped == 0
    assert [(n, s) for n, s, _ in blocks(context)] == [(1, "exp"), (2, "hotel"), (3, "taxi")]
    assert blocks(context)[0][2] == MEALS.text and context.tokens == words(context.text)


def test_near_duplicate_passages_go_and_the_better_one_stays() -> None:
    copy = Passage(MEALS.text.upper() + " ", 0.9, "copy")  # the same words
    reworded = Passage(MEALS.text.replace("free", "always free"), 0.85, "reworded")  # shingle Jaccard 0.83
    inside = Passage("Meals are reimbursed up to 45 euros per day", 0.3, "inside")  # within a better one
    changed = Passage(MEALS.text.replace("45", "50"), 0.2, "changed")  # Jaccard 0.68: different enough
    context = compress("meals", [MEALS, copy, reworded, inside, TAXI, changed], budget_tokens=500, count=words)
    assert context.sources == ("copy", "taxi", "changed") and context.duplicates_dropped == 3 + 2
    assert "50 euros per day." in context.text and "Travel" not in blocks(context)[2][2]  # its repeats went
    assert not context.compressed


def test_sentences_repeated_across_passages_are_kept_once() -> None:
    overlap = Passage("Meals are reimbursed up to 45 euros per day! Hotels need approval.", 0.5, "overlap")
    context = compress("meals", [MEALS, overlap], budget_tokens=500, count=words)
    assert context.duplicates_dropped == 1 and context.text.count("45 euros") == 1
    assert blocks(context)[1] == (2, "overlap", "Hotels need approval.")


@pytest.mark.parametrize("count", [words, chars])
def test_the_budget_is_always_kept(count: Callable[[str], int]) -> None:
    passages = [MEALS, TAXI, HOTEL]
    full = compress(QUESTION, passages, budget_tokens=10_000, count=count).tokens
    for budget in range(-1, full + 2):
        context = compress(QUESTION, passages, budget_tokens=budget, count=count)
        assert context.tokens == (count(context.text) if context.text else 0) <= max(budget, 0)
        assert context.compressed == (budget < full) and (context.sentences_dropped > 0) == (budget < full)
        for _, source, body in blocks(context):
            original = next(p.text for p in passages if p.source == source)
            assert body in original or all(piece in original for piece in re.split(r"(?<=[.!?]) ", body))


def test_the_relevant_sentence_wins_a_tight_budget() -> None:
    for count, budget in ((words, 13), (chars, 70)):
        tight = compress(QUESTION, [HOTEL, TAXI, MEALS], budget_tokens=budget, count=count)
        assert tight.compressed and tight.sentences_dropped == 6
        assert tight.text == "[1] (source: exp)\nMeals are reimbursed up to 45 euros per day."
        assert tight.sources == ("exp",)


def test_word_forms_meet_and_stopwords_do_not_count() -> None:
    meals = "[1] (source: exp)\nMeals are reimbursed up to 45 euros per day."
    assert compress("reimburse", [MEALS], budget_tokens=12, count=words).text == meals
    assert compress("Reimbursing?", [MEALS], budget_tokens=12, count=words).text == meals
    # only stopwords: no sentence is more relevant, so the first ones that fit stay
    stop = compress("What are they?", [MEALS], budget_tokens=12, count=words)
    assert stop.text == "[1] (source: exp)\nTravel is booked through the portal. Parking is free."


def test_passage_score_breaks_ties_and_kept_sentences_stay_in_order() -> None:
    context = compress("travel parking", [MEALS], budget_tokens=14, count=words)
    assert context.text == "[1] (source: exp)\nTravel is booked through the portal. Parking is free."
    unrelated = compress("weather", [TAXI, MEALS], budget_tokens=12, count=words)
    assert unrelated.text.startswith("[1] (source: exp)\nTravel is booked")  # the better passage first


def test_a_passage_left_out_entirely_is_not_numbered() -> None:
    context = compress("approval receipts", [MEALS, HOTEL, TAXI], budget_tokens=20, count=words)
    assert [(n, s) for n, s, _ in blocks(context)] == [(1, "hotel"), (2, "taxi")]


def test_nothing_in_nothing_out() -> None:
    for passages in ([], [Passage("  ", 0.9, "blank"), Passage("...", 0.5, "dots")]):
        context = compress("q", passages, budget_tokens=100, count=words)
        assert context == Context("", 0, (), 0, 0, compressed=False)
    starved = compress(QUESTION, [MEALS], budget_tokens=2, count=words)
    assert starved.text == "" and starved.tokens == 0 and starved.sentences_dropped == 3
