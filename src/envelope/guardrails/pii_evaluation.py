"""Measuring `PiiDetector` on the labelled set in `data/pii.jsonl`.

Match rule: a finding matches a labelled span when the entity is the same and the
spans overlap (share at least one character). Each labelled span and each finding
counts at most once. A finding that matches no labelled span is a false positive; a
labelled span that no finding matches is a false negative. Scored by default: the
entities the detector covers, less PERSON, LOCATION and NRP, which the set does not
label (they come with a spaCy model, when one is installed).
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from envelope.guardrails.pii import NER_ENTITIES, Finding, PiiDetector
from envelope.guardrails.scoring import Score

DEFAULT_PATH = Path(__file__).with_name("data") / "pii.jsonl"
SPLITS = ("dev", "test")


@dataclass(frozen=True, slots=True)
class Sample:
    """One labelled text: its gold spans and which split it belongs to."""

    text: str
    entities: tuple[Finding, ...]  # score is always 1.0
    split: str


@dataclass(frozen=True, slots=True)
class Report:
    """Overall and per-entity scores over some samples."""

    overall: Score
    per_entity: dict[str, Score]
    samples: int


@dataclass(frozen=True, slots=True)
class Timing:
    """`find` latency over a set of texts, in microseconds."""

    p50_us: float
    p99_us: float
    texts: int


def load(path: Path = DEFAULT_PATH, split: str | None = None) -> list[Sample]:
    """The labelled samples (of one split, if given); a malformed line raises ValueError."""
    samples: list[Sample] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                sample = _parse(json.loads(line), f"{path}:{number}")
                if split is None or sample.split == split:
                    samples.append(sample)
    return samples


def evaluate(detector: PiiDetector, samples: Sequence[Sample], *, entities: Collection[str] | None = None) -> Report:
    """Precision, recall and F1 of `detector` on `samples`, overall and per entity.

    Only `entities` are scored (labels and findings alike); by default the ones the
    detector covers and the set labels.
    """
    scored = set(entities) if entities is not None else set(detector.covered) - set(NER_ENTITIES)
    counts: dict[str, Counter[str]] = {}
    for sample in samples:
        gold = [span for span in sample.entities if span.entity in scored]
        found = [finding for finding in detector.find(sample.text) if finding.entity in scored]
        for outcome, entity in _outcomes(gold, found):
            counts.setdefault(entity, Counter())[outcome] += 1
    per_entity = {entity: _score(counter) for entity, counter in sorted(counts.items())}
    overall = _score(sum(counts.values(), Counter()))
    return Report(overall, per_entity, len(samples))


def time_find(detector: PiiDetector, texts: Sequence[str], *, rounds: int = 5) -> Timing:
    """p50 and p99 latency of `detector.find` over `texts`, each timed `rounds` times."""
    for text in texts:  # warm-up: regex caches, lazily built matchers
        detector.find(text)
    durations: list[float] = []
    for _ in range(rounds):
        for text in texts:
            started = time.perf_counter()
            detector.find(text)
            durations.append((time.perf_counter() - started) * 1e6)
    cuts = statistics.quantiles(durations, n=100, method="inclusive")
    return Timing(p50_us=cuts[49], p99_us=cuts[98], texts=len(texts))


def _outcomes(gold: list[Finding], found: list[Finding]) -> list[tuple[str, str]]:
    """("tp" | "fp" | "fn", entity) for each finding and each unmatched gold span."""
    unmatched = list(gold)
    outcomes: list[tuple[str, str]] = []
    for finding in found:
        match = next((g for g in unmatched if g.entity == finding.entity and _overlap(g, finding)), None)
        if match is None:
            outcomes.append(("fp", finding.entity))
        else:
            unmatched.remove(match)
            outcomes.append(("tp", finding.entity))
    outcomes += [("fn", span.entity) for span in unmatched]
    return outcomes


def _overlap(a: Finding, b: Finding) -> bool:
    return a.start < b.end and b.start < a.end


def _score(counter: Counter[str]) -> Score:
    return Score(counter["tp"], counter["fp"], counter["fn"])


def _parse(row: object, where: str) -> Sample:
    if not isinstance(row, dict) or set(row) != {"text", "entities", "split"}:
        raise ValueError(f"{where}: expected exactly the fields text, entities, split")
    text, spans, split = row["text"], row["entities"], row["split"]
    if not isinstance(text, str) or not text or split not in SPLITS or not isinstance(spans, list):
        raise ValueError(f"{where}: bad text, split or entities")
    entities: list[Finding] = []
    for span in spans:
        if not isinstance(span, dict) or set(span) != {"entity", "start", "end"}:
            raise ValueError(f"{where}: each entity needs exactly entity, start, end")
        start, end = span["start"], span["end"]
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
            raise ValueError(f"{where}: span {start}..{end} outside the text")
        entities.append(Finding(str(span["entity"]), start, end, 1.0))
    return Sample(text, tuple(entities), split)
