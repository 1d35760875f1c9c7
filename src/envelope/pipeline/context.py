"""RequestContext: the one value that flows through the pipeline.

Each stage reads what earlier stages wrote and adds its own part. Fields are grouped
by the stage that fills them; `None` means "not reached yet".
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal

from envelope.catalog import ServedDeployment, ServedModel
from envelope.config.documents import RouteDoc
from envelope.core.admission import Ask
from envelope.core.envelope import Envelope
from envelope.errors import EnvelopeError
from envelope.keys import KeyRecord
from envelope.wire import ChatRequest, EmbeddingRequest

Operation = Literal["chat", "embeddings"]


class RequestContext:
    __slots__ = (  # noqa: RUF023 (grouped by the stage that fills them)
        "request_id", "operation", "headers", "started", "started_wall", "body", "sampled", "spans",
        # authenticate
        "key", "tenant", "route_name", "feature",
        # parse
        "raw", "chat", "embedding", "model", "route", "stream", "client_wants_usage",
        # admit
        "admission",
        # bind
        "envelope", "deadline", "input_tokens", "tokens_exact", "max_tokens", "worst_case_usd",
        "upstream_body", "degradations",
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
        self.admission: Ask | None = None
        self.envelope: Envelope | None = None
        self.deadline = 0.0
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
