"""Retrieve: knowledge-base passages added to a chat request as context, within budget.

On routes with `retrieval`, after the policy has decided (a rule may say
`retrieval: skip`) and before the request is fitted onto its model (the context's
tokens count):

1. Skip when the policy says so, when less than `skip_below_ms` is left of the latency
   budget (`retrieval_skipped:late`), or when the knowledge base is not loaded.
2. Embed the question (the last user message; the semantic cache's embedding is
   reused) and search the route's index for `top_k` chunks — `accurate` re-ranks its
   IVF-PQ candidates exactly unless less than `rerank_below_ms` is left
   (`rerank_skipped`). Embedding and search together get at most `timeout_ms`
   (`retrieval_skipped:timeout`).
3. Drop chunks less similar than `min_score`, compress the rest (duplicates out,
   the sentences most relevant to the question kept) to `context_tokens` (o200k
   tokens), and put the context in the system message with the route's instructions.

A skipped retrieval is a degradation: the answer was made without the context the
route asked for (and, so, is not cached).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from envelope.config.documents import RouteRetrievalDoc
from envelope.embeddings.embedder import Embedder
from envelope.pipeline.context import RequestContext, Retrieved
from envelope.retrieval.compress import Passage, compress
from envelope.retrieval.library import KnowledgeBase
from envelope.retrieval.shelf import Shelf
from envelope.wire import message_text

Vector = np.ndarray[Any, np.dtype[np.float32]]


class Retrieve:
    name = "retrieve"

    def __init__(self, shelf: Shelf, embedder: Embedder, count: Callable[[str], int]) -> None:
        self._shelf = shelf
        self._embedder = embedder
        self._count = count

    async def run(self, ctx: RequestContext) -> None:
        route, chat = ctx.route, ctx.chat
        assert route is not None and chat is not None
        doc = route.retrieval
        if doc is None:
            return
        started = time.perf_counter()
        outcome = ctx.retrieved = Retrieved(doc.knowledge_base, "used")
        base = self._shelf.get(doc.knowledge_base)
        last = chat.messages[-1] if chat.messages else None
        question = message_text(last).strip() if last is not None and last.role == "user" else ""
        left_ms = ctx.remaining_s(started) * 1000.0
        if ctx.routing is not None and ctx.routing.retrieval == "skip":
            outcome.status = "skipped:rule"
        elif base is None:
            outcome.status = "skipped:unavailable"
        elif not question:
            outcome.status = "skipped:no_question"
        elif left_ms < doc.skip_below_ms:
            outcome.status = "skipped:late"
        else:
            await self._retrieve(ctx, doc, base, question, rerank=left_ms >= doc.rerank_below_ms)
        outcome.ms = (time.perf_counter() - started) * 1000.0
        if outcome.status.startswith("skipped:") and outcome.status != "skipped:rule":
            ctx.degradations.append(f"retrieval_{outcome.status}")

    async def _retrieve(
        self, ctx: RequestContext, doc: RouteRetrievalDoc, base: KnowledgeBase, question: str, *, rerank: bool
    ) -> None:
        outcome = ctx.retrieved
        assert outcome is not None
        outcome.version = base.version
        accurate = doc.index == "accurate"
        outcome.index = "accurate_unranked" if accurate and not rerank else doc.index
        if accurate and not rerank and base.index.accurate_kind != "flat":
            ctx.degradations.append("rerank_skipped")
        budget_s = min(doc.timeout_ms / 1000.0, max(ctx.remaining_s(), 0.0))
        try:
            async with asyncio.timeout(budget_s):
                vector = await self._vector(ctx, question)
        except TimeoutError:
            outcome.status = "skipped:timeout"
            return
        # the search itself is sub-millisecond at 100k chunks (see README): run in line
        ids, scores = base.index.search(vector, doc.top_k, kind=doc.index, rerank=rerank)
        found = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0 and s >= doc.min_score]
        if not found:
            outcome.status = "empty"
            return
        passages = [Passage(base.chunks[i].text, score, base.chunks[i].source) for i, score in found]
        context = compress(question, passages, budget_tokens=doc.context_tokens, count=self._count)
        if not context.text:
            outcome.status = "empty"
            return
        outcome.passages, outcome.tokens = len(found), context.tokens
        outcome.chunk_ids = tuple(i for i, _ in found)
        ctx.replace_messages(with_context(ctx.raw["messages"], f"{doc.instructions}\n\n{context.text}"))

    async def _vector(self, ctx: RequestContext, question: str) -> Vector:
        lookup = ctx.semantic
        if lookup is not None and lookup.vector is not None and lookup.question == question:
            return lookup.vector
        rows = await self._embedder.embed([question])
        return rows[0].vector


def with_context(messages: list[Any], block: str) -> list[Any]:
    """`messages` with `block` in the system message: appended to a leading plain-text
    system message, else as a new first message (chat templates of small models often
    accept only one system message, at the start)."""
    first = messages[0] if messages else None
    if isinstance(first, dict) and first.get("role") == "system" and isinstance(first.get("content"), str):
        return [{**first, "content": f"{first['content']}\n\n{block}"}, *messages[1:]]
    return [{"role": "system", "content": block}, *messages]
