"""Cut a document's text into overlapping chunks that each fit a token budget.

Chunks end between sentences (`core/sentences.py`): sentences are packed greedily up
to `max_tokens`; the next chunk starts with the previous chunk's last whole sentences
that fit in `overlap_tokens`, so a fact cut at a chunk's edge is whole in one of them.
A sentence longer than `max_tokens` is cut between words (a word longer than that,
between characters). A chunk's text is exactly `text[start:end]`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from envelope.core.sentences import sentences

_WORD = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class Chunk:
    text: str
    start: int
    end: int
    tokens: int


@dataclass(frozen=True, slots=True)
class _Span:
    start: int
    end: int
    tokens: int


def chunk(text: str, *, max_tokens: int, overlap_tokens: int, count: Callable[[str], int]) -> list[Chunk]:
    """`text` as chunks of at most `max_tokens` (by `count`), overlapping by whole
    sentences totalling at most `overlap_tokens`."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    if not 0 <= overlap_tokens < max_tokens:
        raise ValueError("overlap_tokens must be at least 0 and less than max_tokens")
    units = [u for s in sentences(text) for u in _fitting(text, s.start, s.end, max_tokens, count)]
    chunks: list[Chunk] = []
    first = 0
    while first < len(units):
        last = first
        while last + 1 < len(units) and _tokens(text, units[first].start, units[last + 1].end, count) <= max_tokens:
            last += 1
        start, end = units[first].start, units[last].end
        chunks.append(Chunk(text[start:end], start, end, _tokens(text, start, end, count)))
        if last + 1 >= len(units):
            break
        first = _overlap_start(units, first, last, overlap_tokens)
    return chunks


def _overlap_start(units: list[_Span], first: int, last: int, overlap_tokens: int) -> int:
    """Where the next chunk starts: the trailing units of [first, last] within the
    overlap (never `first` itself, so every chunk moves forward)."""
    begin, total = last + 1, 0
    while begin - 1 > first and total + units[begin - 1].tokens <= overlap_tokens:
        begin -= 1
        total += units[begin].tokens
    return begin


def _tokens(text: str, start: int, end: int, count: Callable[[str], int]) -> int:
    return count(text[start:end])


def _fitting(text: str, start: int, end: int, max_tokens: int, count: Callable[[str], int]) -> list[_Span]:
    """The sentence as one unit, or cut into units of at most `max_tokens`."""
    tokens = count(text[start:end])
    if tokens <= max_tokens:
        return [_Span(start, end, tokens)]
    units: list[_Span] = []
    words = [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]
    begin: int | None = None
    previous_end = start
    for w_start, w_end in words:
        if count(text[w_start:w_end]) > max_tokens:  # a monster word: cut by characters
            if begin is not None:
                units.append(_span(text, begin, previous_end, count))
                begin = None
            units.extend(_by_characters(text, w_start, w_end, max_tokens, count))
        elif begin is None:
            begin = w_start
        elif count(text[begin:w_end]) > max_tokens:
            units.append(_span(text, begin, previous_end, count))
            begin = w_start
        previous_end = w_end
    if begin is not None:
        units.append(_span(text, begin, previous_end, count))
    return units


def _by_characters(text: str, start: int, end: int, max_tokens: int, count: Callable[[str], int]) -> list[_Span]:
    units = []
    at = start
    while at < end:
        stop = at + 1
        while stop < end and count(text[at : stop + 1]) <= max_tokens:
            stop += 1
        units.append(_span(text, at, stop, count))
        at = stop
    return units


def _span(text: str, start: int, end: int, count: Callable[[str], int]) -> _Span:
    return _Span(start, end, count(text[start:end]))
