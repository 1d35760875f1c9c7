"""Chunking: every chunk within its budget, exact offsets, sentences in order, overlap."""

from __future__ import annotations

from itertools import pairwise

import pytest

from envelope.core.sentences import sentences
from envelope.retrieval.chunking import chunk


def words(text: str) -> int:
    return len(text.split())


def chars(text: str) -> int:
    return len(text)


TEXT = " ".join(f"Sentence {i} says something about topic {i % 7}." for i in range(60))


@pytest.mark.parametrize("count", [words, chars])
@pytest.mark.parametrize(("size", "overlap"), [(20, 0), (20, 8), (50, 20), (7, 6)])
def test_chunks_fit_cover_and_overlap(count: object, size: int, overlap: int) -> None:
    counter = words if count is words else chars
    size = size if counter is words else size * 6
    overlap = overlap if counter is words else overlap * 6
    chunks = chunk(TEXT, max_tokens=size, overlap_tokens=overlap, count=counter)
    assert chunks and all(c.tokens <= size and c.tokens == counter(c.text) for c in chunks)
    assert all(TEXT[c.start : c.end] == c.text for c in chunks)
    assert all(a.start < b.start for a, b in pairwise(chunks))  # always forward
    assert chunks[0].start == 0 and chunks[-1].end == len(TEXT)
    for a, b in pairwise(chunks):
        assert b.start <= a.end + 1  # nothing between chunks is lost
        if overlap and counter is words and size > 10:
            assert b.start < a.end  # whole sentences repeated
    covered = {s.start for c in chunks for s in sentences(c.text)}
    assert len(covered) >= 1


def test_a_long_sentence_and_a_monster_word_are_cut() -> None:
    text = " ".join(["word"] * 45) + " " + "x" * 30 + "."
    chunks = chunk(text, max_tokens=10, overlap_tokens=0, count=words)
    assert all(c.tokens <= 10 for c in chunks) and "".join(c.text.replace(" ", "") for c in chunks).count("word") == 45
    by_chars = chunk("y" * 25, max_tokens=10, overlap_tokens=0, count=chars)
    assert [c.text for c in by_chars] == ["y" * 10, "y" * 10, "y" * 5]


def test_edges() -> None:
    assert chunk("", max_tokens=5, overlap_tokens=0, count=words) == []
    assert [c.text for c in chunk("no punctuation here at all", max_tokens=50, overlap_tokens=0, count=words)] == [
        "no punctuation here at all"
    ]
    with pytest.raises(ValueError):
        chunk("x", max_tokens=5, overlap_tokens=5, count=words)
    with pytest.raises(ValueError):
        chunk("x", max_tokens=0, overlap_tokens=0, count=words)
