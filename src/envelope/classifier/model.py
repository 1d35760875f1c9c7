"""The request classifier: three softmax heads over one feature vector, plus risk rules.

Features (`FEATURES`): the 384-d all-MiniLM-L6-v2 unit vector of the prompt, then
`log(1 + word count)`. The embedding truncates long prompts and says little about how
much is being asked, so the length column carries most of the complexity signal; it
is left unpenalised in training (see `train.py`). The three heads' weights are stacked
into one (385, 16) matrix at load, so a request costs one small matmul and a few
regex scans; the embedding itself is computed elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from envelope.classifier import risk as risk_rules
from envelope.classifier.logistic import LogisticRegression
from envelope.core.classification import Classification

DEFAULT_WEIGHTS = Path(__file__).with_name("data") / "weights.npz"
FEATURES = "all-MiniLM-L6-v2[384] + log1p(words)"
DIMENSIONS = 385
HEADS = ("intent", "complexity", "risk")

Matrix = NDArray[np.float32]


def features(vectors: NDArray[np.floating[Any]], texts: Sequence[str]) -> Matrix:
    """The (rows, 385) feature matrix for embedded `vectors` and their `texts`."""
    words = np.log1p(np.array([len(text.split()) for text in texts], dtype=np.float32))
    return np.hstack([vectors.astype(np.float32, copy=False), words[:, None]])


@dataclass(frozen=True, slots=True)
class Head:
    """One softmax head: the label of each output column, its model, and the L2 it was fitted with."""

    labels: tuple[str, ...]
    model: LogisticRegression
    l2: float


class Classifier:
    """Intent, complexity and risk of a prompt from its embedding and text."""

    def __init__(self, *, intent: Head, complexity: Head, risk: Head, train_digest: str) -> None:
        if "high" not in risk.labels:
            raise ValueError(f"the risk head needs a 'high' label, has {risk.labels}")
        self.intent, self.complexity, self.risk = intent, complexity, risk
        self.heads: Mapping[str, Head] = {"intent": intent, "complexity": complexity, "risk": risk}
        self.train_digest = train_digest  # texts_digest() of the prompts it was fitted on
        heads = self.heads.values()
        self._weight = np.hstack([h.model.weight for h in heads]).astype(np.float32)
        # views split at the length row, so that one request needs no concatenation
        self._embedding_weight, self._length_weight = self._weight[:-1], self._weight[-1]
        self._bias = np.concatenate([h.model.bias for h in heads]).astype(np.float32)
        self._ends = np.cumsum([len(h.labels) for h in heads]).tolist()
        self._high = self._ends[1] + risk.labels.index("high")

    @classmethod
    def load(cls, path: Path | None = None) -> Classifier:
        """Read weights written by `train.save` (default: the shipped `data/weights.npz`)."""
        source = path if path is not None else DEFAULT_WEIGHTS
        with np.load(source, allow_pickle=False) as data:
            if str(data["features"]) != FEATURES:
                raise ValueError(f"{source} was trained on features {data['features']}, not {FEATURES}")
            heads = {name: _read_head(data, name) for name in HEADS}
            return cls(**heads, train_digest=str(data["train_digest"]))

    def arrays(self) -> dict[str, NDArray[Any]]:
        """Everything `load` reads back, as plain arrays (no pickled objects)."""
        out: dict[str, NDArray[Any]] = {"features": np.array(FEATURES), "train_digest": np.array(self.train_digest)}
        for name, head in self.heads.items():
            out[f"{name}_labels"] = np.array(head.labels)
            out[f"{name}_weight"] = head.model.weight.astype(np.float32)
            out[f"{name}_bias"] = head.model.bias.astype(np.float32)
            out[f"{name}_l2"] = np.array(head.l2)
        return out

    def classify(self, vector: NDArray[np.floating[Any]], text: str) -> Classification:
        """Classify one prompt from its 384-d embedding and its text; `ms` is left at 0."""
        logits = vector @ self._embedding_weight + (self._bias + math.log1p(len(text.split())) * self._length_weight)
        return self._decide(logits.tolist(), text)

    def classify_many(self, vectors: NDArray[np.floating[Any]], texts: Sequence[str]) -> list[Classification]:
        """Classify a batch: `vectors` is (len(texts), 384)."""
        logits = features(vectors, texts) @ self._weight + self._bias
        return [self._decide(row, text) for row, text in zip(logits.tolist(), texts, strict=True)]

    def _decide(self, logits: list[float], text: str) -> Classification:
        intent_end, complexity_end, _ = self._ends
        intent = _argmax(logits, 0, intent_end)
        complexity = _argmax(logits, intent_end, complexity_end)
        # P(high) = softmax over the risk columns, taken at the "high" column
        top = max(logits[complexity_end:])
        total = sum(math.exp(value - top) for value in logits[complexity_end:])
        risk, flags = risk_rules.apply(text, math.exp(logits[self._high] - top) / total)
        return Classification(
            intent=self.intent.labels[intent],
            complexity=self.complexity.labels[complexity - intent_end],
            risk=risk,
            flags=flags,
            ms=0.0,
        )


def _argmax(values: list[float], start: int, end: int) -> int:
    return max(range(start, end), key=values.__getitem__)


def _read_head(data: Any, name: str) -> Head:
    labels = tuple(str(label) for label in data[f"{name}_labels"])
    weight, bias = data[f"{name}_weight"], data[f"{name}_bias"]
    if weight.shape != (DIMENSIONS, len(labels)) or bias.shape != (len(labels),):
        raise ValueError(f"{name} head: weight {weight.shape}, bias {bias.shape} for {len(labels)} labels")
    return Head(labels, LogisticRegression(weight, bias), float(data[f"{name}_l2"]))
