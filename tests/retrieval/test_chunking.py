"""Chunking: every chunk within its budget, exact offsets, sentences whole and in
order, overlap by whole sentences; checked over generated texts and two counters."""

from __future__ import annotations

import random
from collections.abc import Callable
from itertools import pairwise

import pytest

from envelope.core.sentences import Sentence, sentences
from envelope.retrieval.chunking import Chunk, chunk

Count = Callable[[str], int]


def words(text: str) -> int:
    return len(text.split())


def chars(text: str) -> int:
    return len(text)


def generated(seed: int) -> str:
    """Paragraphs of sentences of 1 to 40 words, now and then an over-long word."""
    rng = random.Random(seed)
    vocabulary = ("the", "refund", "policy", "covers", "meals", "taxis", "hotels", "within", "days", "of", "travel")
    paragraphs = []
    for _ in range(rng.randint(1, 6)):
        said = []
        for _ in range(rng.randint(1, 8)):
            body = [rng.choice(vocabulary) for _ in range(rng.randint(1, 40))]
            if rng.random() < 0.1:
                body.append("x" * rng.randint(20, 400))
            said.append(" ".join(body).capitalize() + rng.choice(".!?"))
        paragraphs.append(" ".join(said))
    return "\n\n".join(paragraphs)


def check(text: str, chunks: list[Chunk], *, max_tokens: int, overlap_tokens: int, count: Count) -> None:
    """The properties every chunking has."""
    whole = [s for s in sentences(text) if count(s.text) <= max_tokens]
    assert bool(chunks) == bool(text.strip())
    for c in chunks:
        assert c.text == text[c.start : c.end] and c.text == c.text.strip()
        assert c.tokens == count(c.text) <= max_tokens
        assert all(s.end <= c.start or s.start >= c.end or c.start <= s.start < s.end <= c.end for s in whole)
    if chunks:
        assert chunks[0].start == sentences(text)[0].start and chunks[-1].end == sentences(text)[-1].end
    for a, b in pairwise(chunks):
        assert a.start < b.start and a.end < b.end  # forward, never a chunk inside another
        assert not text[a.end : b.start].strip()  # nothing between two chunks is lost
        if b.start < a.end:  # an overlap is whole sentences within its budget
            assert count(text[b.start : a.end]) <= overlap_tokens
            assert any(s.start == b.start for s in whole)
        following = _after(whole, a.end)
        if following is not None and following.start >= b.start:  # greedy: the next sentence did not fit
            assert count(text[a.start : following.end]) > max_tokens


def _after(whole: list[Sentence], end: int) -> Sentence | None:
    return next((s for s in whole if s.start >= end), None)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize(("max_tokens", "overlap_tokens"), [(1, 0), (12, 0), (30, 10), (60, 59), (500, 100)])
def test_properties_with_a_word_counter(seed: int, max_tokens: int, overlap_tokens: int) -> None:
    text = generated(seed)
    chunks = chunk(text, max_tokens=max_tokens, overlap_tokens=overlap_tokens, count=words)
    check(text, chunks, max_tokens=max_tokens, overlap_tokens=overlap_tokens, count=words)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize(("max_tokens", "overlap_tokens"), [(1, 0), (40, 0), (150, 60), (900, 300)])
def test_properties_with_a_character_counter(seed: int, max_tokens: int, overlap_tokens: int) -> None:
    text = generated(seed)
    chunks = chunk(text, max_tokens=max_tokens, overlap_tokens=overlap_tokens, count=chars)
    check(text, chunks, max_tokens=max_tokens, overlap_tokens=overlap_tokens, count=chars)


UNIFORM = " ".join(f"Sentence {i} says something about topic {i % 7}." for i in range(60))  # 7 words each


def test_sentences_are_packed_and_overlap_by_whole_sentences() -> None:
    chunks = chunk(UNIFORM, max_tokens=20, overlap_tokens=8, count=words)
    assert all(c.tokens == 14 for c in chunks[:-1])  # two sentences; a third would make 21
    for a, b in pairwise(chunks):
        assert b.text.split(". ")[0] == a.text.split(". ")[-1].rstrip(".")  # the last sentence again
    assert len(chunks) == 59


def test_no_overlap_when_even_the_last_sentence_is_too_big() -> None:
    chunks = chunk(UNIFORM, max_tokens=20, overlap_tokens=6, count=words)
    assert len(chunks) == 30 and all(a.end < b.start for a, b in pairwise(chunks))


def test_an_overlap_leaves_room_for_the_next_sentence() -> None:
    text = "One two three. Four five six. Seven eight nine ten eleven."
    chunks = chunk(text, max_tokens=6, overlap_tokens=3, count=words)
    # "Four five six." would fit the overlap, but not beside the 5-word sentence
    assert [c.text for c in chunks] == ["One two three. Four five six.", "Seven eight nine ten eleven."]


def test_a_long_sentence_is_cut_between_words_and_a_monster_word_by_characters() -> None:
    text = " ".join(["word"] * 45) + " " + "x" * 30 + " end."
    chunks = chunk(text, max_tokens=10, overlap_tokens=3, count=words)
    assert [c.tokens for c in chunks] == [10, 10, 10, 10, 7]  # pieces of a sentence do not overlap
    assert " ".join(c.text for c in chunks) == text
    by_chars = chunk("y" * 25, max_tokens=10, overlap_tokens=0, count=chars)
    assert [c.text for c in by_chars] == ["y" * 10, "y" * 10, "y" * 5]


def test_text_without_punctuation_is_cut_anyway() -> None:
    text = " ".join(f"w{i}" for i in range(1000))
    chunks = chunk(text, max_tokens=64, overlap_tokens=16, count=words)
    assert [c.tokens for c in chunks] == [64] * 15 + [40]
    assert " ".join(c.text for c in chunks) == text


def test_cost_stays_near_linear() -> None:
    text = " ".join(f"w{i}" for i in range(100_000))  # one "sentence"
    counted = 0

    def counting(piece: str) -> int:
        nonlocal counted
        counted += len(piece)
        return words(piece)

    chunks = chunk(text, max_tokens=500, overlap_tokens=50, count=counting)
    assert len(chunks) == 200
    assert counted < 60 * len(text)  # adding a word at a time would count ~250 times the text


def test_edges_and_validation() -> None:
    assert chunk("", max_tokens=5, overlap_tokens=0, count=words) == []
    assert chunk(" \n\n\t ", max_tokens=5, overlap_tokens=0, count=words) == []
    assert chunk("  Short one.  ", max_tokens=5, overlap_tokens=0, count=words) == [Chunk("Short one.", 2, 12, 2)]
    assert chunk(UNIFORM, max_tokens=30, overlap_tokens=10, count=words) == chunk(
        UNIFORM, max_tokens=30, overlap_tokens=10, count=words
    )
    for size, overlap in ((5, 5), (5, -1), (0, 0)):
        with pytest.raises(ValueError):
            chunk("x", max_tokens=size, overlap_tokens=overlap, count=words)
