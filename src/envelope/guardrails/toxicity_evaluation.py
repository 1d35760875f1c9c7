"""Precision, recall and F1 of the toxicity filter on the labelled set.

`python -m envelope.guardrails.toxicity_evaluation [split]` prints the scores and the
texts it gets wrong. The set (data/toxicity.jsonl) is described in data/TOXICITY.md.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from envelope.guardrails.scoring import Score
from envelope.guardrails.toxicity import ToxicityFilter

DEFAULT_PATH = Path(__file__).with_name("data") / "toxicity.jsonl"
SPLITS = ("dev", "test")


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled text."""

    text: str
    toxic: bool
    split: str


@dataclass(frozen=True, slots=True)
class Scores(Score):
    """Confusion counts with toxic as the positive class, and the texts misjudged."""

    true_negatives: int
    wrong: tuple[Example, ...]


def load(path: Path = DEFAULT_PATH) -> list[Example]:
    """The labelled examples; raises ValueError naming the line of a malformed row."""
    examples: list[Example] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        if set(row) != {"text", "toxic", "split"} or not isinstance(row["toxic"], bool) or row["split"] not in SPLITS:
            raise ValueError(f"{path}:{number}: expected text, toxic (bool) and split (dev|test)")
        examples.append(Example(str(row["text"]), row["toxic"], row["split"]))
    return examples


def evaluate(checker: ToxicityFilter, examples: Sequence[Example], split: str | None = None) -> Scores:
    """Score `checker` on the examples of `split` (all of them when None)."""
    counts = {(True, True): 0, (True, False): 0, (False, True): 0, (False, False): 0}
    wrong: list[Example] = []
    for example in examples:
        if split is not None and example.split != split:
            continue
        flagged = checker.check(example.text).toxic
        counts[flagged, example.toxic] += 1
        if flagged != example.toxic:
            wrong.append(example)
    return Scores(counts[True, True], counts[True, False], counts[False, True], counts[False, False], tuple(wrong))


def main(argv: Sequence[str]) -> None:
    """Print the scores on the split named in `argv` (default dev) and its errors."""
    split = argv[0] if argv else "dev"
    scores = evaluate(ToxicityFilter(), load(), split)
    print(f"{split}: precision {scores.precision:.3f} recall {scores.recall:.3f} f1 {scores.f1:.3f}")
    for example in scores.wrong:
        print(f"  {'missed' if example.toxic else 'false alarm'}: {example.text}")


if __name__ == "__main__":
    main(sys.argv[1:])
