"""What the classifier says of a request (see envelope/classifier/)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Classification:
    intent: str
    complexity: str
    risk: float  # 0..1: the model's probability of "high", raised by risk rules
    flags: frozenset[str]  # the risk rules that fired (legal, pii, escalation, ...)
    ms: float  # time spent classifying, embedding included
