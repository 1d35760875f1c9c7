"""Cache: answer a request from the exact or the semantic cache, or share an identical
request's upstream call, before any routing, admission or upstream work is done.

The stage runs after bind (the key needs the bound mode and cost ceiling) on routes
with `cache.exact`. Lookups, in order:

1. exact — the same normalised request (`core/cache_key.request_key`);
2. semantic (routes with `cache.semantic`) — the last user message is embedded and
   the nearest earlier questions of the same partition (everything else identical)
   are taken in order of similarity while it is ≥ the route's threshold; the first
   that the guard lets through (`core/cache_guard.conflict`: no negation, polarity,
   number or name differs) answers. A sampled share (`verify_rate`) of such hits is
   sent upstream anyway and the fresh answer compared with the cached one: that
   measures the false-hit rate, and a cached answer found wrong is dropped;
3. coalescing — the first request for a key becomes its leader; identical requests
   arriving while it is in flight wait for its answer instead of calling upstream.

A client may send `x-envelope-cache-control: no-cache` (skip the lookups, keep the
fresh answer: a refresh) or `no-store` (leave the cache out: `bypass`).

A hit answers at once (`x-envelope-cache: exact|semantic|coalesced`, cost 0, nothing
reserved or rate-limited); a stream is served the cached answer as a proper SSE
stream. The finisher stores a leader's answer — streamed or not — only if it is
whole and clean: status 200, no degradation of any kind, every choice finished on its
own (`core/cache_key.cacheable`), within `cache.max_answer_bytes`; then indexes its
question. A store that fails or is slow (`cache.timeout_s`) counts as a miss
(`cache_unavailable`); an embedding not had in time skips the semantic lookup.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable

import msgspec
import numpy as np

from envelope.cache import assemble, replay
from envelope.cache.ports import STORE_ERRORS, AnswerStore
from envelope.cache.semantic import SemanticCache
from envelope.cache.semantic_index import Entry, Vector
from envelope.config.documents import CacheDoc, RouteDoc, RouteSemanticDoc
from envelope.core.cache_guard import conflict
from envelope.core.cache_key import cacheable, partition, request_key
from envelope.embeddings.embedder import Embedder
from envelope.errors import InvalidRequest
from envelope.pipeline.context import RequestContext, SemanticLookup
from envelope.pipeline.settle import usage_of
from envelope.wire import CompletionView

log = logging.getLogger("envelope.cache")
_completion = msgspec.json.Decoder(CompletionView)
EMBED_ERRORS = (TimeoutError, OSError, RuntimeError, ValueError, KeyError)


class Cache:
    """The cache stage and, once the request is over, its finisher."""

    name = "cache"

    def __init__(
        self,
        store: AnswerStore,
        settings: CacheDoc,
        versions: dict[str, str],
        *,
        routes: dict[str, RouteDoc],
        semantic: SemanticCache | None = None,
        embedder: Embedder | None = None,
        sample: Callable[[], float] = random.random,
        relief: Callable[[str], float] = lambda tenant: 0.0,
    ) -> None:
        self._store = store
        self._settings = settings
        self._versions = versions  # route → digest of the documents shaping its answers
        self._routes = routes
        self._semantic = semantic
        self._embedder = embedder
        self._sample = sample
        self._relief = relief
        # key → the leader's future answer and its deadline (perf_counter): a leader that
        # vanished without finishing (a cancelled task) is given up on at its deadline
        self._flights: dict[str, tuple[asyncio.Future[bytes | None], float]] = {}

    async def run(self, ctx: RequestContext) -> None:
        route, envelope = ctx.route, ctx.envelope
        assert route is not None and envelope is not None
        if not route.cache.exact:
            return
        control = _control(ctx)
        if control == "no-store" or (ctx.guarded is not None and ctx.guarded.pii_passed):
            ctx.cache = "bypass"
            return
        scope = (self._versions[route.name], envelope.mode, repr(envelope.cost_ceiling_usd))
        key = ctx.cache_key = request_key(ctx.raw, tenant=ctx.tenant, route=route.name, scope=scope)
        ctx.cache = "miss"
        if ctx.stream:
            ctx.stream_chunks = []
        look = control != "no-cache"  # no-cache: go upstream, then keep the fresh answer
        answer = await self._get(ctx, key) if look else None
        if answer is not None:
            _serve(ctx, answer, "exact")
            return
        semantic = route.cache.semantic
        if semantic is not None and self._semantic is not None:
            found = partition(ctx.raw, tenant=ctx.tenant, route=route.name, scope=scope, max_chars=semantic.max_chars)
            if found is not None:
                ctx.semantic = SemanticLookup(*found)
                ctx.semantic.vector = await self._embed(ctx, ctx.semantic.question)
                if look and await self._look_alike(ctx, ctx.semantic, semantic):
                    return
        if route.cache.coalesce and look:
            await self._coalesce(ctx, key)

    async def finish(self, ctx: RequestContext) -> None:
        key = ctx.cache_key
        if key is None or ctx.cache != "miss":
            return
        answer = self._kept(ctx)
        if ctx.cache_leader:
            flight = self._flights.get(key)
            if flight is not None and not flight[0].done():
                flight[0].set_result(answer)
            if flight is not None and flight[0].done():
                del self._flights[key]
        lookup, route = ctx.semantic, ctx.route
        if lookup is not None and lookup.check is not None and answer is not None and route is not None:
            await self._verify(lookup, answer, route)
        if answer is None or route is None:
            return
        ttl_s = self._settings.ttl_s[route.cache.volatility]
        try:
            await self._store.put(key, answer, ttl_s)
        except STORE_ERRORS as exc:
            log.debug("cache store unavailable: %s", exc)
            return
        if lookup is not None and lookup.vector is not None and self._semantic is not None:
            entry = Entry(key, lookup.question, time.time() + ttl_s)
            await self._semantic.add(lookup.partition, lookup.vector, entry)

    async def purge(self, tenant: str | None = None, route: str | None = None) -> int:
        """Drop cached answers (of `tenant` and/or `route`; all if neither) and the
        questions indexed for them; the number of answers dropped."""
        if self._semantic is not None:
            await self._semantic.purge(tenant, route)
        return await self._store.purge(tenant, route)

    async def invalidate(self, event: str) -> tuple[list[str], int]:
        """An event happened (a knowledge base re-ingested, a catalogue changed): drop the
        answers of every route that names it in `cache.invalidate_on`, and for `kb:NAME`
        of every route that retrieves from knowledge base NAME."""
        routes = [name for name, doc in self._routes.items() if event in listened(doc)]
        purged = 0
        for name in routes:
            purged += await self.purge(route=name)
        return routes, purged

    async def _get(self, ctx: RequestContext, key: str) -> bytes | None:
        try:
            return await self._store.get(key)
        except STORE_ERRORS as exc:
            log.debug("cache store unavailable: %s", exc)
            if "cache_unavailable" not in ctx.degradations:
                ctx.degradations.append("cache_unavailable")
            return None

    async def _look_alike(self, ctx: RequestContext, lookup: SemanticLookup, doc: RouteSemanticDoc) -> bool:
        """The semantic lookup; whether it answered the request."""
        assert self._semantic is not None
        if lookup.vector is None:
            return False
        candidates = self._semantic.search(lookup.partition, lookup.vector, k=self._settings.semantic.candidates)
        threshold = doc.threshold - self._relief(ctx.tenant)  # a tenant near its budget takes nearer matches
        for candidate in candidates:
            if candidate.similarity < threshold:
                break
            reason = conflict(lookup.question, candidate.entry.text) if doc.guard else None
            if reason is not None:
                lookup.guard = lookup.guard or reason
                continue
            answer = await self._get(ctx, candidate.entry.key)
            if answer is None:  # expired or purged in the store: the index learns of it now
                await self._semantic.drop(lookup.partition, candidate.entry.key)
                continue
            lookup.similarity = candidate.similarity
            if doc.verify_rate > 0 and self._sample() < doc.verify_rate:
                lookup.check, lookup.check_key = answer, candidate.entry.key
                return False
            _serve(ctx, answer, "semantic")
            return True
        return False

    async def _embed(self, ctx: RequestContext, text: str) -> Vector | None:
        if self._embedder is None:
            return None
        budget = min(self._settings.semantic.timeout_ms / 1000.0, max(ctx.remaining_s(), 0.0))
        try:
            async with asyncio.timeout(budget):
                rows = await self._embedder.embed([text])
        except EMBED_ERRORS as exc:
            if not isinstance(exc, TimeoutError):
                log.warning("semantic cache: embedding unavailable: %s", exc)
            return None
        return rows[0].vector

    async def _coalesce(self, ctx: RequestContext, key: str) -> None:
        flight = self._flights.get(key)
        now = time.perf_counter()
        if flight is None or flight[1] <= now:
            self._flights[key] = (asyncio.get_running_loop().create_future(), ctx.deadline)
            ctx.cache_leader = True
            return
        leader, leader_deadline = flight
        answer = None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(min(ctx.deadline, leader_deadline) - now, 0.0)):
                answer = await asyncio.shield(leader)
        if answer is not None:
            _serve(ctx, answer, "coalesced")

    async def _verify(self, lookup: SemanticLookup, fresh: bytes, route: RouteDoc) -> None:
        """Compare the fresh answer with the cached one the semantic cache would have
        served: the same text, or embeddings at least `verify_similarity` alike, agree."""
        assert lookup.check is not None and route.cache.semantic is not None
        texts = [_text(fresh), _text(lookup.check)]
        if texts[0] == texts[1]:
            lookup.verdict = "agree"
        elif self._embedder is not None:
            try:
                rows = await self._embedder.embed(texts)
            except EMBED_ERRORS as exc:
                log.debug("semantic cache: verification skipped: %s", exc)
                return
            alike = float(np.dot(rows[0].vector, rows[1].vector))
            lookup.verdict = "agree" if alike >= route.cache.semantic.verify_similarity else "disagree"
        if lookup.verdict == "disagree" and self._semantic is not None and lookup.check_key is not None:
            await self._semantic.drop(lookup.partition, lookup.check_key)

    def _kept(self, ctx: RequestContext) -> bytes | None:
        """The answer to store, if it is one the cache keeps."""
        if ctx.status != 200 or ctx.degradations or (ctx.guarded is not None and ctx.guarded.pii_passed):
            return None
        answer = ctx.answer
        if ctx.stream:
            answer = assemble.completion(ctx.stream_chunks, usage_of(ctx)) if ctx.stream_chunks else None
        if answer is None or len(answer) > self._settings.max_answer_bytes:
            return None
        try:
            return answer if cacheable(_completion.decode(answer)) else None
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None


def listened(route: RouteDoc) -> list[str]:
    """The events that drop a route's cached answers."""
    events = list(route.cache.invalidate_on)
    if route.retrieval is not None:
        events.append(f"kb:{route.retrieval.knowledge_base}")
    return events


def _control(ctx: RequestContext) -> str | None:
    """The client's `x-envelope-cache-control`: `no-cache` (do not answer from the cache,
    but keep the fresh answer) or `no-store` (leave the cache out altogether)."""
    value = ctx.headers.get("x-envelope-cache-control")
    if value is None:
        return None
    value = value.strip().lower()
    if value not in ("no-cache", "no-store"):
        raise InvalidRequest(
            f"x-envelope-cache-control must be no-cache or no-store, not {value!r}.",
            param="x-envelope-cache-control",
        )
    return value


def _text(answer: bytes) -> str:
    try:
        choices = _completion.decode(answer).choices
    except (msgspec.DecodeError, msgspec.ValidationError):
        return ""
    message = choices[0].message if choices else None
    return (message.content or "").strip() if message is not None else ""


def _serve(ctx: RequestContext, answer: bytes, kind: str) -> None:
    """Answer from `answer`: its usage is reported, nothing is billed."""
    ctx.cache = kind
    ctx.answered = True
    ctx.stream_chunks = None
    try:
        usage = _completion.decode(answer).usage
    except (msgspec.DecodeError, msgspec.ValidationError):
        usage = None
    if usage is not None:
        ctx.input_tokens, ctx.output_tokens = usage.prompt_tokens, usage.completion_tokens
    if ctx.stream:
        ctx.events = replay.stream(answer)
    else:
        ctx.answer = answer
