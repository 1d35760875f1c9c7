"""RequestContext: the one value that flows through the pipeline.

Each stage reads what earlier stages wrote and adds its own part. Fields are grouped
by the stage that fills them; `None` means "not reached yet".
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from envelope.catalog import ServedDeployment, ServedModel
from envelope.config.documents import RouteDoc
from envelope.core.admission import Ask
from envelope.core.classification import Classification
from envelope.core.envelope import Envelope
from envelope.core.rules import Routing
from envelope.errors import EnvelopeError
from envelope.keys import KeyRecord
from envelope.wire import ChatRequest, EmbeddingRequest

Operation = Literal["chat", "embeddings"]


@dataclass(frozen=True, slots=True, eq=False)
class Fit:
    """A chat request fitted onto one model: its body, token counts and cost plan."""

    model: ServedModel
    body: dict[str, Any]
    input_tokens: int
    tokens_exact: bool
    max_tokens: int
    worst_case_usd: float
    degradations: tuple[str, ...]


@dataclass(slots=True)
class SemanticLookup:
    """The semantic cache's look for a request's question: the partition searched, the
    question and its embedding (the classifier reuses it), and what was found."""

    partition: str
    question: str
    vector: np.ndarray[Any, np.dtype[np.float32]] | None = None
    similarity: float | None = None  # of the cached question answered with (or verified)
    guard: str | None = None  # why the guard refused the nearest question above the threshold
    check: bytes | None = None  # verification: the cached answer the fresh one is compared with
    check_key: str | None = None
    verdict: str | None = None  # verification: agree | disagree


class RequestContext:
    __slots__ = (  # noqa: RUF023 (grouped by the stage that fills them)
        "request_id", "operation", "headers", "started", "started_wall", "body", "sampled", "spans",
        # authenticate
        "key", "tenant", "route_name", "feature",
        # parse
        "raw", "chat", "embedding", "model", "route", "stream", "client_wants_usage",
        # cache
        "cache", "cache_key", "cache_leader", "answered", "semantic", "stream_chunks",
        # classify
        "classification",
        # route and bind
        "envelope", "deadline", "routing", "fit", "alternates",
        "input_tokens", "tokens_exact", "max_tokens", "worst_case_usd", "upstream_body", "degradations",
        # admit
        "admission",
        # infer
        "deployment", "answer", "events", "upstream_started", "first_token_at", "attempts",
        # outcome
        "output_tokens", "output_exact", "cached_tokens", "cost_usd", "status", "error", "finished_at",
        "answer_text",
    )  # fmt: skip

    def __init__(self, request_id: str, operation: Operation, headers: Mapping[str, str], body: bytes) -> None:
        self.request_id = request_id
        self.operation = operation
        self.headers = headers
        self.started = time.perf_counter()
        self.started_wall = time.time()
        self.body = body
        self.sampled = False
        self.spans: Any = None
        self.key: KeyRecord | None = None
        self.tenant: str = "-"
        self.route_name: str = "-"
        self.feature: str | None = None
        self.raw: dict[str, Any] = {}
        self.chat: ChatRequest | None = None
        self.embedding: EmbeddingRequest | None = None
        self.model: ServedModel | None = None
        self.route: RouteDoc | None = None
        self.stream = False
        self.client_wants_usage = False
        self.cache = (
            "off"  # off (route does not cache) | bypass (client said no-store) | miss | exact | semantic | coalesced
        )
        self.cache_key: str | None = None
        self.cache_leader = False  # the first of identical requests in flight: the others wait for it
        self.answered = False  # answered before the upstream (a cache hit): later stages are skipped
        self.semantic: SemanticLookup | None = None
        self.stream_chunks: list[bytes] | None = None  # a streamed miss's chunks, kept to cache the answer
        self.classification: Classification | None = None
        self.envelope: Envelope | None = None
        self.deadline = 0.0
        self.routing: Routing | None = None
        self.fit: Fit | None = None
        self.alternates: list[Fit] = []
        self.admission: Ask | None = None
        self.input_tokens = 0
        self.tokens_exact = True
        self.max_tokens: int | None = None
        self.worst_case_usd = 0.0
        self.upstream_body: dict[str, Any] = {}
        self.degradations: list[str] = []
        self.deployment: ServedDeployment | None = None
        self.answer: bytes | None = None
        self.events: AsyncIterator[bytes] | None = None
        self.upstream_started: float | None = None
        self.first_token_at: float | None = None
        self.attempts = 0
        self.output_tokens = 0
        self.output_exact = True
        self.cached_tokens = 0
        self.cost_usd = 0.0
        self.status = 200
        self.error: EnvelopeError | None = None
        self.finished_at: float | None = None
        self.answer_text: list[str] = []

    def use(self, fit: Fit) -> None:
        """Serve from `fit`: its model, body and plan replace the previous fit's."""
        if self.fit is not None:
            for degradation in self.fit.degradations:
                self.degradations.remove(degradation)
        if fit in self.alternates:
            self.alternates.remove(fit)
        self.fit = fit
        self.model = fit.model
        self.upstream_body = fit.body
        self.input_tokens = fit.input_tokens
        self.tokens_exact = fit.tokens_exact
        self.max_tokens = fit.max_tokens
        self.worst_case_usd = fit.worst_case_usd
        self.degradations.extend(fit.degradations)

    @property
    def cache_hit(self) -> bool:
        return self.cache in ("exact", "semantic", "coalesced")

    def remaining_s(self, now: float | None = None) -> float:
        """Seconds left of the request's latency budget."""
        return self.deadline - (time.perf_counter() if now is None else now)

    def fail(self, error: EnvelopeError) -> None:
        self.error = error
        self.status = error.status

    @property
    def latency_ms(self) -> float:
        end = self.finished_at if self.finished_at is not None else time.perf_counter()
        return (end - self.started) * 1000.0

    @property
    def ttft_ms(self) -> float | None:
        return None if self.first_token_at is None else (self.first_token_at - self.started) * 1000.0

    @property
    def model_name(self) -> str:
        if self.model is not None:
            return self.model.doc.name
        return str(self.raw.get("model", "-")) if isinstance(self.raw.get("model"), str) else "-"
