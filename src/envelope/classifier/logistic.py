"""Multinomial logistic regression (softmax), L2-regularised, fitted with L-BFGS in numpy.

The objective is the mean cross-entropy plus `l2/2·‖W‖²` (the bias is not penalised),
over standardised features so that one `l2` treats every feature alike. It is strictly
convex, so the optimum is unique and full-batch L-BFGS from zero reaches the same
weights every run: no seeds, no shuffling. The standardisation is folded back into the
weights after fitting, so prediction is one matmul on the raw features.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.floating[Any]]
Vector = NDArray[np.float64]
Objective = Callable[[Vector], tuple[float, Vector]]

_ARMIJO = 1e-4  # sufficient-decrease constant of the backtracking line search
_MEMORY = 10  # (s, y) pairs L-BFGS keeps


@dataclass(frozen=True, slots=True)
class LogisticRegression:
    """A fitted model: `weight` is (features, classes), `bias` is (classes,)."""

    weight: Array
    bias: Array

    def logits(self, x: Array) -> Array:
        """Unnormalised log-probabilities, (rows, classes)."""
        out: Array = x @ self.weight + self.bias
        return out

    def predict_proba(self, x: Array) -> Array:
        """Class probabilities, (rows, classes); each row sums to 1."""
        return softmax(self.logits(x))

    def predict(self, x: Array) -> NDArray[np.intp]:
        """The most probable class index of each row."""
        out: NDArray[np.intp] = np.argmax(self.logits(x), axis=1)
        return out

    def astype(self, dtype: type[np.floating[Any]]) -> LogisticRegression:
        """The same model with its arrays cast, e.g. to float32 for shipping."""
        return LogisticRegression(self.weight.astype(dtype), self.bias.astype(dtype))


def softmax(logits: Array) -> Array:
    """Row-wise softmax, shifted by the row maximum so exp() cannot overflow."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    out: Array = shifted / shifted.sum(axis=1, keepdims=True)
    return out


def fit(
    x: Array,
    y: NDArray[np.integer[Any]],
    *,
    classes: int,
    l2: float,
    unpenalised: int = 0,
    max_iter: int = 500,
    tol: float = 1e-6,
) -> LogisticRegression:
    """Fit on rows `x` with class indices `y` in [0, classes); stops when max |gradient| < tol."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0  # a constant feature carries nothing; leave it unscaled
    z = ((x - mean) / scale).astype(np.float64)
    onehot = np.eye(classes)[y]
    features = z.shape[1]
    penalty = np.full((features, 1), l2)
    penalty[features - unpenalised :] = 0.0

    def objective(theta: Vector) -> tuple[float, Vector]:
        weight, bias = theta[:-classes].reshape(features, classes), theta[-classes:]
        logits = z @ weight + bias
        logits -= logits.max(axis=1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        loss = -float((onehot * log_p).sum()) / len(z) + 0.5 * float((penalty * weight * weight).sum())
        residual = (np.exp(log_p) - onehot) / len(z)
        return loss, np.concatenate([(z.T @ residual + penalty * weight).ravel(), residual.sum(axis=0)])

    theta = minimise(objective, np.zeros((features + 1) * classes), max_iter=max_iter, tol=tol)
    weight, bias = theta[:-classes].reshape(features, classes), theta[-classes:]
    raw_weight = weight / scale[:, None]
    return LogisticRegression(raw_weight, bias - mean @ raw_weight)


def minimise(objective: Objective, start: Vector, *, max_iter: int, tol: float) -> Vector:
    """L-BFGS with a backtracking (Armijo) line search; returns the last point reached."""
    x = start
    value, grad = objective(x)
    steps: list[tuple[Vector, Vector, float]] = []  # (s, y, 1/(s·y)), oldest first
    for _ in range(max_iter):
        if float(np.abs(grad).max()) < tol:
            break
        direction = -_two_loop(grad, steps)
        slope = float(grad @ direction)
        if slope >= 0:  # not a descent direction: forget the curvature and go downhill
            steps.clear()
            direction, slope = -grad, -float(grad @ grad)
        step = 1.0 if steps else min(1.0, 1.0 / float(np.abs(grad).sum()))
        while True:
            candidate = x + step * direction
            new_value, new_grad = objective(candidate)
            if new_value <= value + _ARMIJO * step * slope:
                break
            step *= 0.5
            if step < 1e-12:
                return x
        s, y = candidate - x, new_grad - grad
        if (sy := float(s @ y)) > 1e-12:  # keep only pairs with positive curvature
            steps = [*steps[-(_MEMORY - 1) :], (s, y, 1.0 / sy)]
        x, value, grad = candidate, new_value, new_grad
    return x


def _two_loop(grad: Vector, steps: list[tuple[Vector, Vector, float]]) -> Vector:
    """The L-BFGS estimate of H⁻¹·grad from the stored (s, y) pairs."""
    q = grad.copy()
    alphas: list[float] = []
    for s, y, rho in reversed(steps):
        alpha = rho * float(s @ q)
        q -= alpha * y
        alphas.append(alpha)
    if steps:
        s, y, _ = steps[-1]
        q *= float(s @ y) / float(y @ y)
    for (s, y, rho), alpha in zip(steps, reversed(alphas), strict=True):
        q += s * (alpha - rho * float(y @ q))
    return q
