"""Fit the classifier on the train split, measure it on the held-out split, write the weights.

    envelope classifier train           # train, report, write data/weights.npz
    envelope classifier train --check   # train and report only

Each head's L2 strength is picked from `L2_GRID` by 5-fold cross-validation inside the
train split (folds by SHA-256, see `dataset.fold`); the held-out split is only ever
used to measure. The length column is not penalised: it is one strong, low-variance
feature that the penalty meant for the 384 embedding dimensions would only blunt.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from envelope.classifier import dataset, logistic
from envelope.classifier.dataset import LABELS, Prompt
from envelope.classifier.model import DEFAULT_WEIGHTS, HEADS, Classifier, Head, features

L2_GRID = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0)
FOLDS = 5
RISK_THRESHOLD = 0.5  # a final risk score at or above this counts as "high" when measuring

Vectors = NDArray[np.floating[Any]]
Labels = NDArray[np.intp]


def train(rows: Sequence[Prompt], vectors: Vectors, *, l2: Mapping[str, float] | None = None) -> Classifier:
    """Fit every head on all of `rows`; L2 per head from `l2`, else by cross-validation on `rows`."""
    x = features(vectors, [row.text for row in rows]).astype(np.float64)
    folds = np.array([dataset.fold(row.text, FOLDS) for row in rows])
    heads: dict[str, Head] = {}
    for name in HEADS:
        labels = LABELS[name]
        y = np.array([labels.index(row.label(name)) for row in rows])
        strength = l2[name] if l2 is not None else tune(x, y, classes=len(labels), folds=folds)
        heads[name] = Head(labels, _fit(x, y, classes=len(labels), l2=strength), strength)
    return Classifier(**heads, train_digest=dataset.texts_digest(rows))


def tune(x: Vectors, y: Labels, *, classes: int, folds: Labels) -> float:
    """The `L2_GRID` value with the best mean validation accuracy; a tie goes to the stronger one."""

    def score(l2: float) -> float:
        accuracies = []
        for fold in range(FOLDS):
            fitted = _fit(x[folds != fold], y[folds != fold], classes=classes, l2=l2)
            accuracies.append(float(np.mean(fitted.predict(x[folds == fold]) == y[folds == fold])))
        return float(np.mean(accuracies))

    return max((score(l2), l2) for l2 in L2_GRID)[1]


def _fit(x: Vectors, y: Labels, *, classes: int, l2: float) -> logistic.LogisticRegression:
    return logistic.fit(x, y, classes=classes, l2=l2, unpenalised=1)  # the last column is the length


@dataclass(frozen=True, slots=True)
class Report:
    """How a classifier does on a labelled set."""

    size: int
    accuracy: Mapping[str, float]  # intent, complexity, risk (head alone), risk+rules
    intent_recall: Mapping[str, float]
    confusions: Sequence[tuple[str, str, int]]  # (label, predicted, count), most frequent first
    l2: Mapping[str, float]

    def render(self) -> str:
        lines = [f"held-out prompts: {self.size}"]
        lines += [f"  accuracy {head:<11} {value:.3f}" for head, value in self.accuracy.items()]
        lines.append("intent recall: " + ", ".join(f"{k} {v:.2f}" for k, v in self.intent_recall.items()))
        lines.append("top intent confusions: " + ", ".join(f"{a}→{b} ×{n}" for a, b, n in self.confusions))
        lines.append("L2 per head: " + ", ".join(f"{k} {v:g}" for k, v in self.l2.items()))
        return "\n".join(lines)


def evaluate(classifier: Classifier, rows: Sequence[Prompt], vectors: Vectors) -> Report:
    """Accuracy per head on `rows` (the held-out split), intent recall and the commonest confusions."""
    texts = [row.text for row in rows]
    results = classifier.classify_many(vectors, texts)
    risk_head = classifier.risk.model.predict(features(vectors, texts))
    hits = {
        "intent": [r.intent == row.intent for r, row in zip(results, rows, strict=True)],
        "complexity": [r.complexity == row.complexity for r, row in zip(results, rows, strict=True)],
        "risk": [classifier.risk.labels[i] == row.risk for i, row in zip(risk_head, rows, strict=True)],
        "risk+rules": [
            (r.risk >= RISK_THRESHOLD) == (row.risk == "high") for r, row in zip(results, rows, strict=True)
        ],
    }
    pairs = Counter((row.intent, r.intent) for r, row in zip(results, rows, strict=True))
    recall = {
        intent: pairs[intent, intent] / total
        for intent in dataset.INTENTS
        if (total := sum(n for (label, _), n in pairs.items() if label == intent))
    }
    return Report(
        size=len(rows),
        accuracy={head: float(np.mean(flags)) for head, flags in hits.items()},
        intent_recall=recall,
        confusions=[(a, b, n) for (a, b), n in pairs.most_common() if a != b][:8],
        l2={name: head.l2 for name, head in classifier.heads.items()},
    )


def save(classifier: Classifier, path: Path) -> None:
    """Write the weights as a plain `.npz` (float32 arrays and label strings, no pickle)."""
    with path.open("wb") as out:
        np.savez(out, allow_pickle=False, **classifier.arrays())


def run(out: Path = DEFAULT_WEIGHTS, report_only: bool = False) -> Report:
    """Embed the prompt set, train on the train split, print the held-out report, save unless `report_only`."""
    from envelope.embeddings.minilm import MiniLM  # loads 90 MB of weights: only when training

    parts = dataset.split(dataset.load())
    minilm = MiniLM.load()
    classifier = train(parts.train, minilm.encode([p.text for p in parts.train]).vectors)
    report = evaluate(classifier, parts.held_out, minilm.encode([p.text for p in parts.held_out]).vectors)
    print(f"trained on {len(parts.train)} prompts")
    print(report.render())
    if not report_only:
        save(classifier, out)
        print(f"wrote {out}")
    return report
