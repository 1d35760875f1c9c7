"""The numpy softmax regression and its L-BFGS optimiser."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from envelope.classifier.logistic import Vector, fit, minimise, softmax

Labels = NDArray[np.intp]


def _blobs(rng: np.random.Generator, centres: Vector, per_class: int, spread: float) -> tuple[Vector, Labels]:
    x = np.concatenate([c + spread * rng.standard_normal((per_class, centres.shape[1])) for c in centres])
    y = np.repeat(np.arange(len(centres)), per_class)
    return x, y


def test_minimise_finds_the_minimum_of_an_ill_conditioned_quadratic() -> None:
    scales = np.array([1.0, 10.0, 100.0, 1000.0])
    target = np.array([3.0, -2.0, 0.5, 7.0])

    def objective(v: Vector) -> tuple[float, Vector]:
        d = v - target
        return 0.5 * float(scales @ (d * d)), scales * d

    np.testing.assert_allclose(minimise(objective, np.zeros(4), max_iter=200, tol=1e-9), target, atol=1e-8)


def test_separable_classes_are_learned_perfectly_and_confidently() -> None:
    rng = np.random.default_rng(0)
    x, y = _blobs(rng, np.array([[5.0, 0.0], [0.0, 5.0], [-5.0, -5.0]]), per_class=40, spread=0.5)
    model = fit(x, y, classes=3, l2=1e-3)
    assert (model.predict(x) == y).all()
    proba = model.predict_proba(x)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert proba[np.arange(len(y)), y].min() > 0.9


def test_overlapping_classes_get_close_to_the_true_boundary() -> None:
    # labels drawn from a known softmax model: the fitted model should recover its
    # direction and score nearly as well as the truth on fresh data
    rng = np.random.default_rng(1)
    true_weight = rng.standard_normal((10, 4)) * 1.5

    def sample(n: int) -> tuple[Vector, Labels]:
        x = rng.standard_normal((n, 10))
        p = softmax(x @ true_weight)
        y = np.array([rng.choice(4, p=row) for row in p])
        return x, y

    x, y = sample(2000)
    test_x, test_y = sample(2000)
    model = fit(x, y, classes=4, l2=1e-3)
    best = float(np.mean(np.argmax(test_x @ true_weight, axis=1) == test_y))
    got = float(np.mean(model.predict(test_x) == test_y))
    assert got > best - 0.03
    assert got > 0.6  # chance is 0.25
    centred_true = true_weight - true_weight.mean(axis=1, keepdims=True)
    centred_fit = model.weight - model.weight.mean(axis=1, keepdims=True)
    cosine = float((centred_true * centred_fit).sum() / np.linalg.norm(centred_true) / np.linalg.norm(centred_fit))
    assert cosine > 0.95


def test_fit_is_deterministic_and_prediction_needs_no_standardising() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((100, 5)) * np.array([0.01, 1.0, 100.0, 5.0, 0.5]) + 40.0
    y = (x[:, 0] * 100 - x[:, 2] / 100 > 0).astype(np.intp)
    first, second = fit(x, y, classes=2, l2=1e-2), fit(x, y, classes=2, l2=1e-2)
    np.testing.assert_array_equal(first.weight, second.weight)
    # the standardisation is folded into the weights: raw features in, same answer out
    assert (first.predict(x) == y).mean() > 0.9


def test_l2_shrinks_weights_except_the_unpenalised_columns() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((300, 3))
    y = (x[:, 0] + x[:, 2] > 0).astype(np.intp)
    weak, strong = fit(x, y, classes=2, l2=1e-3), fit(x, y, classes=2, l2=10.0)
    assert np.abs(strong.weight).sum() < 0.2 * np.abs(weak.weight).sum()
    free = fit(x, y, classes=2, l2=10.0, unpenalised=1)
    assert np.abs(free.weight[2]).sum() > 5 * np.abs(free.weight[0]).sum()


def test_softmax_is_stable_for_large_logits() -> None:
    proba = softmax(np.array([[1000.0, 0.0], [-1000.0, -1000.0]]))
    np.testing.assert_allclose(proba, [[1.0, 0.0], [0.5, 0.5]])
