"""The shipped weights, measured on the held-out split embedded with the real MiniLM.

The floors sit just under what training measured (see data/README.md): garbage or
stale weights fall through them.
"""

from __future__ import annotations

import numpy as np
import pytest

from envelope.classifier import dataset, train
from envelope.classifier.model import DEFAULT_WEIGHTS, Classifier, features
from envelope.embeddings.minilm import Matrix, MiniLM

FLOORS = {"intent": 0.78, "complexity": 0.70, "risk": 0.87, "risk+rules": 0.89}


@pytest.fixture(scope="module")
def minilm() -> MiniLM:
    return MiniLM.load()


@pytest.fixture(scope="module")
def parts() -> dataset.Split:
    return dataset.split(dataset.load())


@pytest.fixture(scope="module")
def shipped() -> Classifier:
    return Classifier.load()


@pytest.fixture(scope="module")
def held_out_vectors(minilm: MiniLM, parts: dataset.Split) -> Matrix:
    return minilm.embed([p.text for p in parts.held_out])


def test_weights_file_is_small_and_pickle_free() -> None:
    assert DEFAULT_WEIGHTS.stat().st_size < 200_000
    with np.load(DEFAULT_WEIGHTS, allow_pickle=False) as data:
        assert all(data[key].dtype != object for key in data.files)
        assert data["intent_weight"].dtype == np.float32


def test_held_out_accuracy_reaches_the_floors(
    shipped: Classifier, parts: dataset.Split, held_out_vectors: Matrix
) -> None:
    report = train.evaluate(shipped, parts.held_out, held_out_vectors)
    for head, floor in FLOORS.items():
        assert report.accuracy[head] >= floor, report.render()


def test_weights_were_fitted_on_the_train_split_only(shipped: Classifier, parts: dataset.Split) -> None:
    assert shipped.train_digest == dataset.texts_digest(parts.train)


def test_refitting_the_train_split_reproduces_the_shipped_weights(
    minilm: MiniLM, shipped: Classifier, parts: dataset.Split, held_out_vectors: Matrix
) -> None:
    l2 = {name: head.l2 for name, head in shipped.heads.items()}
    refit = train.train(parts.train, minilm.embed([p.text for p in parts.train]), l2=l2)
    x = features(held_out_vectors, [p.text for p in parts.held_out])
    for name, head in shipped.heads.items():
        expected = head.model.predict_proba(x)
        np.testing.assert_allclose(refit.heads[name].model.predict_proba(x), expected, atol=1e-3)
