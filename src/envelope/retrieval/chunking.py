"""Cut a document's text into overlapping chunks that each fit a token budget.

Chunks end between sentences (`core/sentences.py`; paragraphs are packed together
like sentences): sentences are packed greedily up to `max_tokens`, and the next chunk
starts with the previous chunk's last whole sentences that total at most
`overlap_tokens`, so a fact cut at a chunk's edge is whole in one of them. A sentence
longer than `max_tokens` is cut between words, and a word longer than that between
characters. A chunk's text is exactly `text[start:end]`.

Pure and deterministic. The longest span that fits is found by galloping then
bisecting rather than by adding one piece at a time, so the cost stays near-linear in
the text even for a long text with no sentence ends.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from envelope.core.sentences import Sentence, sentences

_WORD = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class Chunk:
    """`text` is `source[start:end]`; `tokens` is its count."""

    text: str
    start: int
    end: int
    tokens: int


@dataclass(frozen=True, slots=True)
class _Unit:
    start: int
    end: int
    whole: bool  # a whole sentence, not a piece of a too-long one: only these overlap


def chunk(text: str, *, max_tokens: int, overlap_tokens: int, count: Callable[[str], int]) -> list[Chunk]:
    """`text` as chunks of at most `max_tokens` (by `count`), consecutive ones sharing the
    whole sentences at the end of the first that total at most `overlap_tokens`.

    The one chunk that can exceed `max_tokens` is a single character that alone counts
    more (it cannot be cut). Raises ValueError unless 0 <= overlap_tokens < max_tokens.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, not {max_tokens}")
    if not 0 <= overlap_tokens < max_tokens:
        raise ValueError(
            f"overlap_tokens must be at least 0 and less than max_tokens ({max_tokens}), not {overlap_tokens}"
        )
    units = [unit for s in sentences(text) for unit in _units(text, s, max_tokens, count)]
    ends = [unit.end for unit in units]
    chunks: list[Chunk] = []
    first = fresh = 0  # the chunk's first unit, and its first unit not in the previous chunk
    while fresh < len(units):
        last = _reach(text, units[first].start, ends, fresh, max_tokens, count)
        start, end = units[first].start, units[last].end
        chunks.append(Chunk(text[start:end], start, end, count(text[start:end])))
        first, fresh = _overlap(text, units, first, last, overlap_tokens, max_tokens, count), last + 1
    return chunks


def _overlap(
    text: str,
    units: list[_Unit],
    first: int,
    last: int,
    overlap_tokens: int,
    max_tokens: int,
    count: Callable[[str], int],
) -> int:
    """The next chunk's first unit: the trailing whole sentences of [first, last] within
    the overlap and leaving room for the next unit; never `first` itself, so that chunks
    always move forward."""
    fresh = last + 1
    if fresh >= len(units):
        return fresh
    begin = fresh
    while begin - 1 > first and units[begin - 1].whole:
        start = units[begin - 1].start
        if count(text[start : units[last].end]) > overlap_tokens or count(text[start : units[fresh].end]) > max_tokens:
            break
        begin -= 1
    return begin


def _units(text: str, sentence: Sentence, max_tokens: int, count: Callable[[str], int]) -> list[_Unit]:
    """The sentence as one unit, or cut between words into units that fit."""
    if count(sentence.text) <= max_tokens:
        return [_Unit(sentence.start, sentence.end, whole=True)]
    words = list(_WORD.finditer(text, sentence.start, sentence.end))
    ends = [word.end() for word in words]
    units: list[_Unit] = []
    at = 0
    while at < len(words):
        word = words[at]
        if count(word.group()) > max_tokens:
            units.extend(_by_characters(text, word.start(), word.end(), max_tokens, count))
            at += 1
            continue
        last = _reach(text, word.start(), ends, at, max_tokens, count)
        units.append(_Unit(word.start(), ends[last], whole=False))
        at = last + 1
    return units


def _by_characters(text: str, start: int, end: int, max_tokens: int, count: Callable[[str], int]) -> list[_Unit]:
    units = []
    while start < end:
        ends = range(start + 1, end + 1)
        stop = ends[_reach(text, start, ends, 0, max_tokens, count)]
        units.append(_Unit(start, stop, whole=False))
        start = stop
    return units


def _reach(text: str, start: int, ends: Sequence[int], lo: int, max_tokens: int, count: Callable[[str], int]) -> int:
    """The largest j >= lo with `text[start:ends[j]]` within `max_tokens`, `lo` taken as
    fitting. Gallops then bisects, which finds the largest when a longer span never
    counts fewer tokens; when a counter is not so regular, the j found still fits."""

    def fits(j: int) -> bool:
        return count(text[start : ends[j]]) <= max_tokens

    good, bad, step = lo, len(ends), 1
    while good + step < bad:
        if not fits(good + step):
            bad = good + step
            break
        good, step = good + step, step * 2
    while bad - good > 1:
        middle = (good + bad) // 2
        good, bad = (middle, bad) if fits(middle) else (good, middle)
    return good
