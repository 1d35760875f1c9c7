"""The Classifier on hand-set weights: decisions, risk rules, saving and loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from envelope.classifier import dataset, model, train
from envelope.classifier.logistic import LogisticRegression
from envelope.classifier.model import Classifier, Head


def _head(labels: tuple[str, ...], bias: list[float], length_weight: list[float] | None = None) -> Head:
    weight = np.zeros((model.DIMENSIONS, len(labels)), dtype=np.float32)
    if length_weight is not None:
        weight[-1] = length_weight
    return Head(labels, LogisticRegression(weight, np.array(bias, dtype=np.float32)), l2=0.1)


@pytest.fixture
def classifier() -> Classifier:
    intents = [0.0] * len(dataset.INTENTS)
    intents[dataset.INTENTS.index("faq")] = 1.0
    # complexity grows with log(1 + words): "high" wins from about e^4 ≈ 55 words
    return Classifier(
        intent=_head(dataset.INTENTS, intents),
        complexity=_head(dataset.COMPLEXITIES, [2.0, 0.0, -4.0], length_weight=[0.0, 0.0, 1.5]),
        risk=_head(dataset.RISKS, [0.0, 0.0]),
        train_digest="d" * 64,
    )


def test_classify_reads_every_head(classifier: Classifier) -> None:
    vector = np.zeros(384, dtype=np.float32)
    short = classifier.classify(vector, "what is a llama")
    assert (short.intent, short.complexity, short.risk, short.flags, short.ms) == ("faq", "low", 0.5, frozenset(), 0.0)
    assert classifier.classify(vector, "word " * 80).complexity == "high"


def test_rules_raise_the_model_risk(classifier: Classifier) -> None:
    result = classifier.classify(np.zeros(384, dtype=np.float32), "my card is 4111 1111 1111 1111")
    assert result.flags == {"pii"}
    assert result.risk == pytest.approx(0.8)


def test_classify_many_matches_classify(classifier: Classifier) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3, 384)).astype(np.float32)
    texts = ["hi", "word " * 80, "I will sue"]
    many = classifier.classify_many(vectors, texts)
    one = [classifier.classify(v, t) for v, t in zip(vectors, texts, strict=True)]
    assert [(c.intent, c.complexity, c.flags) for c in many] == [(c.intent, c.complexity, c.flags) for c in one]
    np.testing.assert_allclose([c.risk for c in many], [c.risk for c in one], rtol=1e-6)


def test_save_and_load_round_trip(classifier: Classifier, tmp_path: Path) -> None:
    path = tmp_path / "w.npz"
    train.save(classifier, path)
    loaded = Classifier.load(path)
    assert loaded.train_digest == classifier.train_digest
    assert loaded.complexity.labels == dataset.COMPLEXITIES
    assert loaded.risk.l2 == 0.1
    vector = np.zeros(384, dtype=np.float32)
    assert loaded.classify(vector, "word " * 80) == classifier.classify(vector, "word " * 80)


def test_load_rejects_weights_for_other_features(classifier: Classifier, tmp_path: Path) -> None:
    path = tmp_path / "w.npz"
    np.savez(path, allow_pickle=False, **{**classifier.arrays(), "features": np.array("bag of words")})
    with pytest.raises(ValueError, match="bag of words"):
        Classifier.load(path)


def test_risk_head_must_know_high(classifier: Classifier) -> None:
    with pytest.raises(ValueError, match="'high'"):
        Classifier(
            intent=classifier.intent,
            complexity=classifier.complexity,
            risk=_head(("safe", "unsafe"), [0.0, 0.0]),
            train_digest="",
        )
