"""The live state of this process's deployments: circuit breakers, requests in flight
and latency EWMAs (breaker openings may be shared with other replicas: see
`envelope/admission/breakers.py`). The decisions over it are pure (`core/breaker.py`, `core/balance.py`);
this is the imperative shell that keeps the figures and hands them in."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from envelope.catalog import ServedDeployment, ServedModel
from envelope.core.balance import Candidate, order, prefix_key
from envelope.core.breaker import Breaker, BreakerPolicy, adopt, allow, record
from envelope.wire import Message, message_text

EWMA_ALPHA = 0.2


class Fleet:
    def __init__(
        self, rng: random.Random | None = None, on_open: Callable[[ServedDeployment], None] | None = None
    ) -> None:
        self._on_open = on_open  # told when a breaker opens here, to share it with other replicas
        self._breakers: dict[str, Breaker] = {}
        self._in_flight: Counter[str] = Counter()
        self._ewma_ms: dict[str, float] = {}
        self._rng = rng or random.Random()

    # --- breakers ---

    def allow(self, deployment: ServedDeployment, now: float) -> bool:
        ok, state = allow(self.breaker(deployment.doc.name), _policy(deployment), now)
        self._breakers[deployment.doc.name] = state
        return ok

    def record(self, deployment: ServedDeployment, *, ok: bool, now: float) -> None:
        name = deployment.doc.name
        before = self.breaker(name)
        after = self._breakers[name] = record(before, _policy(deployment), ok=ok, now=now)
        if after.mode == "open" and before.mode != "open" and self._on_open is not None:
            self._on_open(deployment)

    def adopt(self, deployment: ServedDeployment, *, remaining_s: float, now: float) -> None:
        """Another replica opened this deployment's breaker: open it here until the same moment."""
        name = deployment.doc.name
        self._breakers[name] = adopt(self.breaker(name), _policy(deployment), remaining_s=remaining_s, now=now)

    def breaker(self, name: str) -> Breaker:
        return self._breakers.get(name, Breaker())

    # --- balancing ---

    def order(self, model: ServedModel, messages: list[Message] | None) -> list[ServedDeployment]:
        """The model's deployments in the order its balancing strategy says to try them."""
        doc = model.doc
        if doc.balance == "ordered" or len(model.deployments) < 2:
            return model.deployments
        candidates = [
            Candidate(d.doc.name, d.doc.weight, self._in_flight[d.doc.name], self._ewma_ms.get(d.doc.name))
            for d in model.deployments
        ]
        prefix = None
        if doc.balance == "prefix_affinity" and messages:
            prefix = prefix_key("\n".join(message_text(m) for m in messages)[: doc.affinity_prefix_chars])
        picked = order(doc.balance, candidates, draw=self._rng.random(), prefix=prefix, max_imbalance=doc.max_imbalance)
        return [model.deployments[i] for i in picked]

    @contextmanager
    def attempt(self, deployment: ServedDeployment) -> Iterator[None]:
        """Count a request in flight on `deployment` for the duration of the block."""
        name = deployment.doc.name
        self._in_flight[name] += 1
        try:
            yield
        finally:
            self._in_flight[name] -= 1

    def observe(self, deployment: ServedDeployment, latency_ms: float) -> None:
        name = deployment.doc.name
        previous = self._ewma_ms.get(name)
        self._ewma_ms[name] = latency_ms if previous is None else previous + EWMA_ALPHA * (latency_ms - previous)

    def expected_ms(self, model: ServedModel) -> float | None:
        """The model's latency as seen lately: its fastest deployment's EWMA; None before any answer."""
        known = [self._ewma_ms[d.doc.name] for d in model.deployments if d.doc.name in self._ewma_ms]
        return min(known) if known else None

    def within(self, model: ServedModel, remaining_s: float) -> bool:
        """Whether `model` is expected to answer within `remaining_s` (unknown: yes)."""
        expected = self.expected_ms(model)
        return expected is None or expected <= remaining_s * 1000.0

    def in_flight(self, name: str) -> int:
        return self._in_flight[name]


def _policy(deployment: ServedDeployment) -> BreakerPolicy:
    doc = deployment.doc.breaker
    return BreakerPolicy(doc.failure_threshold, doc.open_s, doc.probes)
