"""Fit retrieved passages into a context-token budget.

1. Near-duplicate passages go (word 3-shingle Jaccard ≥ 0.8, or one's normalised text
   inside another's), the better-scored one stays; then a sentence already seen in a
   better passage is left out.
2. If the rest fits the budget, it is all kept. Otherwise each sentence is scored —
   its passage's similarity to the question plus the IDF weights (over the candidate
   sentences) of the question's content words it holds — and the best are kept while
   the rendered context fits.
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

_WORDS = re.compile(r"[^\W_]+")
_STOP = frozenset(
    "a an the and or but if of to in on at by for with from as is are was were be been being it its this "  # noqa: SIM905 (a word list reads best as words)
    "that these those there here what which who whom whose when where why how do does did done can could "
    "should would will shall may might must i me my we our you your he she they them their his her not "
    "no yes so than then too very just about into over under also any some all each more most other such "
    "only own same get got has have had".split()
)
_SUFFIXES = ("ing", "es", "ed", "ly", "s", "e")
_NEAR_DUPLICATE = 0.8


@dataclass(frozen=True, slots=True)
class Passage:
    """A retrieved chunk: `score` is its similarity to the question (higher is closer),
    `source` the document name it is cited by."""

    text: str
    score: float
    source: str


@dataclass(frozen=True, slots=True)
class Context:
    """The rendered context and what was left out of it.

    `sources` are the rendered passages' sources, in their numbering order.
    `duplicates_dropped` counts near-duplicate passages plus sentences repeated from a
    better passage; `sentences_dropped` the other sentences left out to meet the budget.
    `compressed` is true when the budget forced that selection (deduplication alone
    does not set it).
    """

    text: str
    tokens: int
    sources: tuple[str, ...]
    duplicates_dropped: int
    sentences_dropped: int
    compressed: bool


@dataclass(frozen=True, slots=True)
class _Candidate:
    passage: int
    sentence: int
    score: float


def compress(query: str, passages: Sequence[Passage], *, budget_tokens: int, count: Callable[[str], int]) -> Context:
    """`passages` deduplicated and, if they do not fit `budget_tokens` (by `count`), cut
    to the sentences that best answer `query`; the context's tokens never exceed the
    budget (a budget too small for any sentence gives an empty context)."""
    kept, duplicate_passages = _distinct(passages)
    groups, repeated = _sentences(kept)
    duplicates = duplicate_passages + repeated
    everything = [set(range(len(group))) for group in groups]
    text = _render(kept, groups, everything)
    tokens = count(text) if text else 0
    if tokens <= budget_tokens:
        return Context(text, tokens, _sources(kept, everything), duplicates, 0, compressed=False)
    chosen = _select(_ranked(query, kept, groups), kept, groups, budget_tokens, count)
    text = _render(kept, groups, chosen)
    dropped = sum(len(group) for group in groups) - sum(len(c) for c in chosen)
    return Context(text, count(text) if text else 0, _sources(kept, chosen), duplicates, dropped, compressed=True)


def _distinct(passages: Sequence[Passage]) -> tuple[list[Passage], int]:
    """The passages best first, without the near-duplicates of better ones (passages
    without a word are left out too, uncounted: there is nothing in them to cite)."""
    kept: list[Passage] = []
    seen: list[tuple[str, set[tuple[str, ...]]]] = []
    duplicates = 0
    for passage in sorted(passages, key=lambda p: -p.score):  # stable: ties keep their order
        normal = _normal(passage.text)
        if not normal:
            continue
        own = _shingles(normal)
        padded = f" {normal} "
        if any(padded in f" {other} " or f" {other} " in padded or _jaccard(own, theirs) >= _NEAR_DUPLICATE
               for other, theirs in seen):  # fmt: skip
            duplicates += 1
            continue
        kept.append(passage)
        seen.append((normal, own))
    return kept, duplicates


def _normal(text: str) -> str:
    return " ".join(_WORDS.findall(text.lower()))


def _shingles(normal: str) -> set[tuple[str, ...]]:
    words = normal.split()
    return {tuple(words[i : i + 3]) for i in range(max(1, len(words) - 2))}


def _jaccard(a: set[tuple[str, ...]], b: set[tuple[str, ...]]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _sentences(passages: list[Passage]) -> tuple[list[list[str]], int]:
    """Each passage's sentences, a sentence seen before (in a better passage, or earlier
    in the same one) left out; and how many were."""
    seen: set[str] = set()
    groups: list[list[str]] = []
    repeated = 0
    for passage in passages:
        group = []
        for sentence in sentences(passage.text):
            normal = _normal(sentence.text)
            if normal in seen:
                repeated += 1
                continue
            seen.add(normal)
            group.append(sentence.text)
        groups.append(group)
    return groups, repeated


def _ranked(query: str, passages: list[Passage], groups: list[list[str]]) -> list[_Candidate]:
    """Every sentence, best first: passage score plus the IDF weights of the query's
    content words it holds (ties keep passage, then sentence, order)."""
    terms = _terms(query)
    words = [[_terms(s) for s in group] for group in groups]
    total = sum(len(group) for group in groups)
    frequency = {term: sum(term in w for group in words for w in group) for term in terms}
    idf = {term: math.log(1 + total / n) for term, n in frequency.items() if n}
    candidates = [
        _Candidate(p, s, passage.score + sum(idf.get(term, 0.0) for term in terms & w))
        for p, (passage, group) in enumerate(zip(passages, words, strict=True))
        for s, w in enumerate(group)
    ]
    return sorted(candidates, key=lambda c: -c.score)


def _terms(text: str) -> set[str]:
    return {_stem(word) for word in _WORDS.findall(text.lower()) if word not in _STOP}


def _stem(word: str) -> str:
    """Light suffix stripping, the same for the query and the sentences, so that
    "reimbursed", "reimburses" and "reimburse" meet."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


def _select(
    ranked: list[_Candidate], passages: list[Passage], groups: list[list[str]], budget: int, count: Callable[[str], int]
) -> list[set[int]]:
    """The best sentences whose rendering fits `budget`. Sizes are added up from the
    pieces (counted once each, not the whole context per sentence); a counter whose
    tokens merge across pieces makes that sum an estimate, so the rendering is counted at
    the end and the worst sentences go until it fits."""
    sentence_gap, header_gap, block_gap = count(" "), count("\n"), count("\n\n")
    chosen: list[set[int]] = [set() for _ in groups]
    picked: list[_Candidate] = []
    used = 0
    for candidate in ranked:
        p, s = candidate.passage, candidate.sentence
        size = count(groups[p][s])
        if chosen[p]:
            size += sentence_gap
        else:  # the passage's header comes with its first sentence
            size += count(_header(p + 1, passages[p].source)) + header_gap + (block_gap if picked else 0)
        if used + size <= budget:
            chosen[p].add(s)
            picked.append(candidate)
            used += size
    while picked and count(_render(passages, groups, chosen)) > budget:
        worst = picked.pop()
        chosen[worst.passage].discard(worst.sentence)
    return chosen


def _header(number: int, source: str) -> str:
    return f"[{number}] (source: {source})"


def _render(passages: list[Passage], groups: list[list[str]], chosen: list[set[int]]) -> str:
    blocks: list[str] = []
    for passage, group, picked in zip(passages, groups, chosen, strict=True):
        if picked:
            body = " ".join(group[i] for i in sorted(picked))
            blocks.append(f"{_header(len(blocks) + 1, passage.source)}\n{body}")
    return "\n\n".join(blocks)


def _sources(passages: list[Passage], chosen: list[set[int]]) -> tuple[str, ...]:
    return tuple(passage.source for passage, picked in zip(passages, chosen, strict=True) if picked)
