"""How safe and how useful the semantic cache is, measured on the labelled pairs it ships
(`cache/data/pairs.jsonl`, see its README for source and licence).

Each pair is a cached question and a new one; `same` says whether the cached answer
would be right for the new question. The cache *serves* a pair when the questions'
cosine similarity is ≥ the threshold and the guard finds no conflict. Hit rate: the
share of `same` pairs served; false-hit rate: the share of the others served (each a
wrong answer). The threshold is chosen on the `dev` split; figures are reported on
`test`. The scoring is pure; only `similarities` runs the model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from envelope.core.cache_guard import conflict
from envelope.embeddings.embedder import Embedder

DEFAULT_PATH = Path(__file__).with_name("data") / "pairs.jsonl"
SAME_KINDS = ("paraphrase", "paraphrase_number", "paraphrase_entity", "paraphrase_negation")
OTHER_KINDS = ("negation", "polarity", "number", "entity", "related", "unrelated")
_FIELDS = frozenset({"cached", "query", "same", "kind", "split"})


@dataclass(frozen=True, slots=True)
class Pair:
    cached: str
    query: str
    same: bool
    kind: str
    split: str


@dataclass(frozen=True, slots=True)
class Tally:
    """Pairs of one kind, and how many of them the cache served."""

    kind: str
    pairs: int
    served: int

    @property
    def rate(self) -> float:
        return self.served / self.pairs if self.pairs else 0.0


@dataclass(frozen=True, slots=True)
class Report:
    threshold: float
    guard: bool
    hit_rate: float
    false_hit_rate: float
    kinds: tuple[Tally, ...]


def load(path: Path = DEFAULT_PATH) -> list[Pair]:
    """The pairs, each line checked; a bad line is named."""
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if set(row) != _FIELDS or row["kind"] not in (SAME_KINDS if row["same"] is True else OTHER_KINDS):
            raise ValueError(f"{path}:{number}: not a valid pair: {line[:120]}")
        if row["split"] not in ("dev", "test"):
            raise ValueError(f"{path}:{number}: split must be dev or test")
        pairs.append(Pair(row["cached"], row["query"], row["same"], row["kind"], row["split"]))
    return pairs


async def similarities(pairs: Sequence[Pair], embedder: Embedder) -> list[float]:
    """Cosine similarity of each pair's questions, as the cache computes it."""
    texts = sorted({t for p in pairs for t in (p.cached, p.query)})
    rows = await embedder.embed(texts)
    vectors = {t: r.vector for t, r in zip(texts, rows, strict=True)}
    return [float(np.dot(vectors[p.cached], vectors[p.query])) for p in pairs]


def served(pair: Pair, similarity: float, *, threshold: float, guard: bool) -> bool:
    return similarity >= threshold and (not guard or conflict(pair.query, pair.cached) is None)


def report(pairs: Sequence[Pair], sims: Sequence[float], *, threshold: float, guard: bool) -> Report:
    kinds = []
    for kind in (*SAME_KINDS, *OTHER_KINDS):
        chosen = [(p, s) for p, s in zip(pairs, sims, strict=True) if p.kind == kind]
        hits = sum(served(p, s, threshold=threshold, guard=guard) for p, s in chosen)
        kinds.append(Tally(kind, len(chosen), hits))
    same = [t for t in kinds if t.kind in SAME_KINDS]
    other = [t for t in kinds if t.kind in OTHER_KINDS]
    return Report(threshold, guard, _rate(same), _rate(other), tuple(kinds))


def tune(pairs: Sequence[Pair], sims: Sequence[float], *, guard: bool, max_false_hit_rate: float) -> float:
    """The lowest threshold (highest hit rate) whose false-hit rate on `pairs` is at
    most `max_false_hit_rate`, on a grid of 0.005."""
    best = 1.0
    for threshold in np.arange(1.0, 0.5, -0.005):
        chosen = round(float(threshold), 3)
        if report(pairs, sims, threshold=chosen, guard=guard).false_hit_rate > max_false_hit_rate:
            break
        best = chosen
    return best


def _rate(tallies: Sequence[Tally]) -> float:
    pairs = sum(t.pairs for t in tallies)
    return sum(t.served for t in tallies) / pairs if pairs else 0.0
