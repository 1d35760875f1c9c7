"""RequestContext: the one value that flows through the pipeline.

Each stage reads what earlier stages wrote and adds its own part. Fields are grouped
by the stage that fills them; `None` means "not reached yet".
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
import numpy as np

from envelope.catalog import ServedDeployment, ServedModel
from envelope.config.documents import Priority, RouteDoc
from envelope.core.admission import Ask
from envelope.core.classification import Classification
from envelope.core.envelope import Envelope
from envelope.core.rules import Routing
from envelope.errors import EnvelopeError
from envelope.guardrails.schema import AnswerSchema
from envelope.keys import KeyRecord
from envelope.ledger.record import CACHE_HITS
from envelope.wire import ChatRequest, CompletionView, EmbeddingRequest, Message

_completion = msgspec.json.Decoder(CompletionView)

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


@dataclass(slots=True)
class Retrieved:
    """What the retrieve stage did: `status` is used | empty (nothing similar enough) |
    skipped:rule | skipped:late | skipped:timeout | skipped:unavailable | skipped:no_question."""

    knowledge_base: str
    status: str
    version: int | None = None
    index: str | None = None  # fast | accurate | accurate_unranked (re-rank skipped)
    passages: int = 0
    tokens: int = 0
    ms: float = 0.0
    chunk_ids: tuple[int, ...] = ()  # the chunks the context came from (groundedness reads their vectors)


@dataclass(slots=True)
class Guarded:
    """What the guardrails did: checks that fired as `check:action` (e.g. `pii_input:redact`,
    `toxicity:refuse`, `schema:reask`), the PII entity kinds found, time spent checking."""

    events: list[str]
    entities: set[str]
    ms: float = 0.0
    groundedness: float | None = None
    reasks: int = 0
    pii_passed: bool = False  # PII went upstream unredacted (action allow): nothing of it is stored
    earlier_usd: float = 0.0  # what re-asked attempts cost before the answer served
    earlier_input_tokens: int = 0
    earlier_output_tokens: int = 0
    schema: AnswerSchema | None = None  # the answer's JSON schema (guards.schema and a response_format)


class RequestContext:
    __slots__ = (  # noqa: RUF023 (grouped by the stage that fills them)
        "request_id", "operation", "config_version", "priority", "headers", "started", "started_wall", "body",
        "sampled", "spans",
        # authenticate
        "key", "tenant", "route_name", "feature",
        # parse
        "raw", "chat", "embedding", "model", "route", "stream", "client_wants_usage",
        # cache
        "cache", "cache_key", "cache_leader", "answered", "semantic", "stream_chunks",
        # classify
        "classification",
        # guardrails and retrieval
        "guarded", "retrieved",
        # route and bind
        "envelope", "deadline", "routing", "control", "experiment", "arm", "fit", "alternates",
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
        self.config_version: int | None = None  # the registry version serving the request
        self.priority: Priority | None = None  # admission priority, when not the route's or tenant's (batch items)
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
        self.guarded: Guarded | None = None
        self.retrieved: Retrieved | None = None
        self.envelope: Envelope | None = None
        self.deadline = 0.0
        self.routing: Routing | None = None
        # adaptive control: None (route not controlled) | nominal | probe | downgraded
        self.control: str | None = None
        self.experiment: str | None = None  # NAME:ARM of the experiment the request took part in
        self.arm: int | None = None  # the arm's index in the experiment
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

    def guard(self) -> Guarded:
        """The guardrails' record, created on first use."""
        if self.guarded is None:
            self.guarded = Guarded([], set())
        return self.guarded

    def replace_messages(self, messages: list[dict[str, Any]]) -> None:
        """Serve `messages` instead of the client's (redacted, or with context added): the
        raw body and its typed view change together."""
        assert self.chat is not None
        self.raw = {**self.raw, "messages": messages}
        self.chat = msgspec.structs.replace(self.chat, messages=msgspec.convert(messages, list[Message]))

    def answer_content(self) -> str:
        """The answer's text: as streamed or counted, else the first choice of the JSON answer."""
        if self.answer_text:
            return "".join(self.answer_text)
        if self.answer is None or self.operation != "chat":
            return ""
        try:
            choices = _completion.decode(self.answer).choices
        except (msgspec.DecodeError, msgspec.ValidationError):
            return ""
        message = choices[0].message if choices else None
        return (message.content or "") if message is not None else ""

    @property
    def cache_hit(self) -> bool:
        return self.cache in CACHE_HITS

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
