"""Guard output: a model's answer checked before the client sees it.

On routes whose `guards` check answers, after the answer is settled (usage priced):

1. schema — with a JSON `response_format` (compiled by the input guard): an answer that
   does not validate is re-asked with the problems named, at most `max_reasks` times and
   only while the latency budget and the cost ceiling allow (each attempt's cost counts:
   `Guarded.earlier_usd`); still invalid → the check fails.
2. pii — PII in the answer (a leak): redacted in place, or the check fails.
3. toxicity — the word-list filter (`guardrails/toxicity.py`).
4. groundedness — answers made with retrieved context: the share of the answer's claims
   whose embedding is close enough to a retrieved chunk's (`guardrails/grounding.py`).

A failed check does what its action says: `refuse` (the route's refusal text),
`answer` (the check's fixed answer), or `flag` (served as it is); the checks after a
failed one are not run (a refusal is never rewritten by a later check). Every check that
fired is in `x-envelope-guard` and the ledger; a changed or flagged answer is a
degradation (and so never cached).

Streams on such routes are buffered: the upstream's stream is read whole, checked,
and told again to the client (`cache/replay.py`) — the time to first token is then the
whole answer's time. That is the price of never streaming a leak before it is caught.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

import msgspec
import numpy as np

from envelope.cache import assemble, replay
from envelope.config.documents import GuardAction, RouteGuardsDoc
from envelope.embeddings.embedder import Embedder
from envelope.errors import UpstreamFailed
from envelope.guardrails.grounding import claims, groundedness
from envelope.guardrails.pii import redact
from envelope.guardrails.toxicity import ToxicityFilter
from envelope.pipeline.context import RequestContext
from envelope.pipeline.guard_input import Detectors
from envelope.pipeline.infer import Infer
from envelope.pipeline.relay import relay
from envelope.pipeline.settle import Settle, usage_of
from envelope.retrieval.shelf import Shelf

Check = Literal["pii", "toxicity", "groundedness", "schema"]


def checks_answers(guards: RouteGuardsDoc) -> bool:
    """Whether a route's guards read its answers."""
    pii_out = guards.pii is not None and guards.pii.output != "allow"
    return pii_out or any(g is not None for g in (guards.toxicity, guards.groundedness, guards.schema_))


class GuardOutput:
    name = "guard_output"

    def __init__(
        self, infer: Infer, settle: Settle, detectors: Detectors, embedder: Embedder | None, shelf: Shelf | None
    ) -> None:
        self._infer = infer
        self._settle = settle
        self._detectors = detectors
        self._embedder = embedder
        self._shelf = shelf
        self._toxicity: dict[float, ToxicityFilter] = {}

    async def run(self, ctx: RequestContext) -> None:
        route = ctx.route
        assert route is not None
        guards = route.guards
        if not checks_answers(guards) or (ctx.answer is None and ctx.events is None):
            return
        guard = ctx.guard()
        answer = await self._take(ctx)
        started = time.perf_counter()
        text, answer, failed = await self._valid(ctx, guards, answer)
        if failed is None and guards.pii is not None and guards.pii.output != "allow":
            findings = self._detectors.get(guards.pii).find(text)
            if findings:
                guard.entities.update(f.entity for f in findings)
                guard.events.append(f"pii_output:{guards.pii.output}")
                if guards.pii.output == "redact":
                    text = redact(text, findings)
                    answer = _with_content(answer, text)
                    ctx.degradations.append("guard_pii_output:redact")
                elif guards.pii.output == "flag":
                    guard.pii_passed = True
                else:
                    failed = ("pii", guards.pii.output)
        if failed is None and guards.toxicity is not None:
            verdict = self._filter(guards.toxicity.threshold).check(text)
            if verdict.toxic:
                failed = ("toxicity", guards.toxicity.action)
        if failed is None and guards.groundedness is not None:
            failed = await self._grounded(ctx, guards, text)
        if failed is not None:
            check, action = failed
            if check != "pii":
                guard.events.append(f"{check}:{action}")
            ctx.degradations.append(f"guard_{check}:{action}")
            if action != "flag":
                replacement = guards.refusal if action == "refuse" else guards.answers[check]
                answer = _with_content(answer, replacement)
        guard.ms += (time.perf_counter() - started) * 1000.0
        if ctx.stream:
            ctx.events = replay.stream(answer)
        else:
            ctx.answer = answer

    async def _valid(
        self, ctx: RequestContext, guards: RouteGuardsDoc, answer: bytes
    ) -> tuple[str, bytes, tuple[Check, GuardAction] | None]:
        """The answer and its text once it fits the schema (re-asked within budget), or as
        it stands with the schema check failed."""
        guard = ctx.guard()
        text = content_of(answer)
        schema, doc = guard.schema, guards.schema_
        if schema is None or doc is None:
            return text, answer, None
        check = schema.check(text)
        while not check.ok and guard.reasks < doc.max_reasks and self._affordable(ctx):
            guard.reasks += 1
            guard.events.append("schema:reask")
            guard.earlier_usd = ctx.cost_usd
            guard.earlier_input_tokens += ctx.input_tokens
            guard.earlier_output_tokens += ctx.output_tokens
            body = dict(ctx.upstream_body)
            body["messages"] = [
                *body["messages"],
                {"role": "assistant", "content": text},
                {"role": "user", "content": schema.reask(check)},
            ]
            ctx.upstream_body, ctx.answer, ctx.events = body, None, None
            await self._infer.run(ctx)
            await self._settle.run(ctx)
            answer = await self._take(ctx)
            text = content_of(answer)
            check = schema.check(text)
        return text, answer, None if check.ok else ("schema", doc.action)

    @staticmethod
    def _affordable(ctx: RequestContext) -> bool:
        """Another attempt fits what is left: time, and the cost ceiling at worst case."""
        ceiling = ctx.envelope.cost_ceiling_usd if ctx.envelope else None
        if ceiling is not None and ctx.cost_usd + ctx.worst_case_usd > ceiling:
            return False
        return ctx.remaining_s() > 0

    async def _grounded(
        self, ctx: RequestContext, guards: RouteGuardsDoc, text: str
    ) -> tuple[Check, GuardAction] | None:
        doc, retrieved = guards.groundedness, ctx.retrieved
        assert doc is not None
        if retrieved is None or retrieved.status != "used" or self._embedder is None or self._shelf is None:
            return None
        base = self._shelf.get(retrieved.knowledge_base)
        said = claims(text)
        if base is None or base.version != retrieved.version or not said:
            return None
        try:
            async with asyncio.timeout(max(ctx.remaining_s(), 0.0)):
                rows = await self._embedder.embed(said)
        except TimeoutError:
            ctx.guard().events.append("groundedness:late")
            return None
        vectors = np.stack([row.vector for row in rows])
        context = np.asarray(base.index.vectors[list(retrieved.chunk_ids)], dtype=np.float32)
        grounding = groundedness(said, vectors, context, support=doc.support)
        ctx.guard().groundedness = grounding.score
        return ("groundedness", doc.action) if grounding.score < doc.min_score else None

    def _filter(self, threshold: float) -> ToxicityFilter:
        found = self._toxicity.get(threshold)
        if found is None:
            found = self._toxicity[threshold] = ToxicityFilter(threshold=threshold)
        return found

    async def _take(self, ctx: RequestContext) -> bytes:
        """The answer as a completion: a stream is read whole through the relay (which
        settles its usage), to be told again after the checks."""
        if not ctx.stream:
            assert ctx.answer is not None
            return ctx.answer
        kept = ctx.stream_chunks
        ctx.stream_chunks = []
        async for _ in relay(ctx, _nothing):
            pass
        chunks = ctx.stream_chunks
        ctx.stream_chunks = [] if kept is not None else None
        ctx.answer_text, ctx.first_token_at = [], None  # the client's first token comes with the replay
        if ctx.error is not None:
            raise ctx.error
        answer = assemble.completion(chunks, usage_of(ctx))
        if answer is None:
            raise UpstreamFailed("The upstream's stream held no answer.", code="upstream_malformed")
        return answer


async def _nothing(ctx: RequestContext) -> None:
    """The relay's finisher while a stream is only read: the chain finishes later."""


def content_of(answer: bytes) -> str:
    """The first choice's text."""
    completion: dict[str, Any] = msgspec.json.decode(answer)
    choices = completion.get("choices") or [{}]
    message = choices[0].get("message") or {}
    content = message.get("content")
    return content if isinstance(content, str) else ""


def _with_content(answer: bytes, text: str) -> bytes:
    """`answer` with its first choice's text replaced (a refusal, a fixed answer, a redaction)."""
    completion: dict[str, Any] = msgspec.json.decode(answer)
    choices = completion.get("choices") or []
    if not choices:
        return answer
    message = dict(choices[0].get("message") or {"role": "assistant"})
    message["content"] = text
    message.pop("tool_calls", None)
    choices[0] = {**choices[0], "message": message, "finish_reason": "stop"}
    return msgspec.json.encode({**completion, "choices": choices})
