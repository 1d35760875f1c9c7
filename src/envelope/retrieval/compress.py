"""Fit retrieved passages into a context-token budget.

1. Near-duplicate passages go (word 3-shingle Jaccard ≥ 0.8, or one's text inside
   another's), the better-scored one stays; a sentence repeated across passages is
   kept once.
2. If the rest fits the budget, it is all kept. Otherwise sentences are scored — the
   passage's similarity to the question plus the IDF weight (over the candidate
   sentences) of the question's content words each one holds — and the best are kept
   while the rendered context fits.
3. Kept sentences are rendered in their original order, passages numbered in score
   order with their source: `[1] (source: NAME)\\n…`, separated by blank lines.

Pure: no I/O; `count` is the token counter the budget is in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from envelope.core.sentences import sentences

_WORDS = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an the and or but if of to in on at by for with from as is are was were be been being it its this "  # noqa: SIM905 (a word list reads best as words)
    "that these those there here what which who whom whose when where why how do does did done can could "
    "should would will shall may might must i me my we our you your he she they them their his her not "
    "no yes so than then too very just about into over under also any some all each more most other such "
    "only own same ".split()
)


@dataclass(frozen=True, slots=True)
class Passage:
    text: str
    score: float
    source: str


@dataclass(frozen=True, slots=True)
class Context:
    text: str
    tokens: int
    sources: tuple[str, ...]
    duplicates_dropped: int
    sentences_dropped: int
    compressed: bool  # sentences were left out to meet the budget


def compress(query: str, passages: Sequence[Passage], *, budget_tokens: int, count: Callable[[str], int]) -> Context:
    kept, duplicates = _distinct(passages)
    groups = _sentences(kept)
    duplicates += sum(len(sentences(p.text)) for p in kept) - sum(len(g) for g in groups)
    everything = _render(kept, groups, [set(range(len(g))) for g in groups])
    if everything and count(everything) <= budget_tokens:
        return Context(everything, count(everything), _sources(kept, groups), duplicates, 0, False)
    chosen = _select(query, kept, groups, budget_tokens, count)
    text = _render(kept, groups, chosen)
    total = sum(len(g) for g in groups)
    picked = sum(len(c) for c in chosen)
    sources = tuple(p.source for p, c in zip(kept, chosen, strict=True) if c)
    return Context(text, count(text) if text else 0, sources, duplicates, total - picked, True)


def _distinct(passages: Sequence[Passage]) -> tuple[list[Passage], int]:
    kept: list[Passage] = []
    shingles: list[set[tuple[str, ...]]] = []
    normals: list[str] = []
    for passage in sorted(passages, key=lambda p: -p.score):
        normal = " ".join(_WORDS.findall(passage.text.lower()))
        own = _shingles(normal)
        if any(
            normal in other or _jaccard(own, theirs) >= 0.8 for other, theirs in zip(normals, shingles, strict=True)
        ):
            continue
        kept.append(passage)
        shingles.append(own)
        normals.append(normal)
    return kept, len(passages) - len(kept)


def _shingles(normal: str) -> set[tuple[str, ...]]:
    words = normal.split()
    return {tuple(words[i : i + 3]) for i in range(max(1, len(words) - 2))}


def _jaccard(a: set[tuple[str, ...]], b: set[tuple[str, ...]]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _sentences(passages: list[Passage]) -> list[list[str]]:
    """Each passage's sentences, a sentence seen in a better passage left out."""
    seen: set[str] = set()
    groups = []
    for passage in passages:
        group = []
        for sentence in sentences(passage.text):
            normal = " ".join(_WORDS.findall(sentence.text.lower()))
            if normal in seen:
                continue
            seen.add(normal)
            group.append(sentence.text)
        groups.append(group)
    return groups


def _select(
    query: str, passages: list[Passage], groups: list[list[str]], budget: int, count: Callable[[str], int]
) -> list[set[int]]:
    terms = {w for w in _WORDS.findall(query.lower()) if w not in _STOP}
    words = [[set(_WORDS.findall(s.lower())) for s in group] for group in groups]
    n = sum(len(g) for g in groups) or 1
    idf = {t: math.log(1 + n / (1 + sum(t in w for g in words for w in g))) for t in terms}
    scored = sorted(
        ((passage.score + sum(idf[t] for t in terms & w) / max(1.0, len(terms)), p, s)
         for p, (passage, group) in enumerate(zip(passages, words, strict=True)) for s, w in enumerate(group)),
        key=lambda item: -item[0],
    )  # fmt: skip
    chosen: list[set[int]] = [set() for _ in groups]
    for _, p, s in scored:
        chosen[p].add(s)
        if count(_render(passages, groups, chosen)) > budget:
            chosen[p].discard(s)
    return chosen


def _render(passages: list[Passage], groups: list[list[str]], chosen: list[set[int]]) -> str:
    blocks: list[str] = []
    for passage, group, picked in zip(passages, groups, chosen, strict=True):
        if picked:
            body = " ".join(group[i] for i in sorted(picked))
            blocks.append(f"[{len(blocks) + 1}] (source: {passage.source})\n{body}")
    return "\n\n".join(blocks)


def _sources(passages: list[Passage], groups: list[list[str]]) -> tuple[str, ...]:
    return tuple(p.source for p, g in zip(passages, groups, strict=True) if g)
