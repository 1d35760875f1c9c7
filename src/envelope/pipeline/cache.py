"""Cache: answer a request from the exact cache, or share an identical request's
upstream call, before any routing, admission or upstream work is done.

The stage runs after bind (the key needs the bound mode and cost ceiling) on routes
with `cache.exact`. A hit answers at once (`x-envelope-cache: exact`, cost 0, nothing
reserved or rate-limited); a stream is served the cached answer as a proper SSE
stream. On a miss, the first request for a key becomes its leader; identical requests
arriving while it is in flight wait for its answer (`coalesced`) instead of calling
the upstream again — if the leader fails, or its answer is not cacheable, they go on
to the upstream themselves.

The finisher stores a leader's answer only if it is whole and clean: status 200, not
a stream, no degradation of any kind, every choice finished on its own
(`core/cache_key.cacheable`), and within `cache.max_answer_bytes`. A store that
fails or is slow (`cache.timeout_s`) counts as a miss (`cache_unavailable`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import msgspec

from envelope.admission.ports import StoreUnavailable
from envelope.admission.resp import RedisReplyError
from envelope.cache import replay
from envelope.cache.ports import AnswerStore
from envelope.config.documents import CacheDoc
from envelope.core.cache_key import cacheable, request_key
from envelope.pipeline.context import RequestContext
from envelope.wire import CompletionView

log = logging.getLogger("envelope.cache")
_completion = msgspec.json.Decoder(CompletionView)
STORE_ERRORS = (OSError, TimeoutError, StoreUnavailable, RedisReplyError)


class Cache:
    """The cache stage and, once the request is over, its finisher."""

    name = "cache"

    def __init__(self, store: AnswerStore, settings: CacheDoc, versions: dict[str, str]) -> None:
        self._store = store
        self._settings = settings
        self._versions = versions  # route → digest of the documents shaping its answers
        # key → the leader's future answer and its deadline (perf_counter): a leader that
        # vanished without finishing (a cancelled task) is given up on at its deadline
        self._flights: dict[str, tuple[asyncio.Future[bytes | None], float]] = {}

    async def run(self, ctx: RequestContext) -> None:
        route, envelope = ctx.route, ctx.envelope
        assert route is not None and envelope is not None
        if not route.cache.exact:
            return
        scope = (route.name, self._versions[route.name], envelope.mode, repr(envelope.cost_ceiling_usd))
        key = ctx.cache_key = request_key(ctx.raw, tenant=ctx.tenant, scope=scope)
        ctx.cache = "miss"
        try:
            answer = await self._store.get(key)
        except STORE_ERRORS as exc:
            log.debug("cache store unavailable: %s", exc)
            ctx.degradations.append("cache_unavailable")
            answer = None
        if answer is not None:
            _serve(ctx, answer, "exact")
            return
        if not route.cache.coalesce:
            return
        flight = self._flights.get(key)
        now = time.perf_counter()
        if flight is None or flight[1] <= now:
            self._flights[key] = (asyncio.get_running_loop().create_future(), ctx.deadline)
            ctx.cache_leader = True
            return
        leader, leader_deadline = flight
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(min(ctx.deadline, leader_deadline) - now, 0.0)):
                answer = await asyncio.shield(leader)
        if answer is not None:
            _serve(ctx, answer, "coalesced")

    async def finish(self, ctx: RequestContext) -> None:
        key = ctx.cache_key
        if key is None or ctx.cache != "miss":
            return
        answer = ctx.answer if self._keeps(ctx) else None
        if ctx.cache_leader:
            flight = self._flights.get(key)
            if flight is not None and not flight[0].done():
                flight[0].set_result(answer)
            if flight is not None and flight[0].done():
                del self._flights[key]
        if answer is None or ctx.route is None:
            return
        try:
            await self._store.put(key, answer, self._settings.ttl_s[ctx.route.cache.volatility])
        except STORE_ERRORS as exc:
            log.debug("cache store unavailable: %s", exc)

    async def purge(self, tenant: str | None = None) -> int:
        return await self._store.purge(tenant)

    async def close(self) -> None:
        await self._store.close()

    def _keeps(self, ctx: RequestContext) -> bool:
        answer = ctx.answer
        if ctx.status != 200 or ctx.stream or ctx.degradations or answer is None:
            return False
        if len(answer) > self._settings.max_answer_bytes:
            return False
        try:
            return cacheable(_completion.decode(answer))
        except (msgspec.DecodeError, msgspec.ValidationError):
            return False


def _serve(ctx: RequestContext, answer: bytes, kind: str) -> None:
    """Answer from `answer`: its usage is reported, nothing is billed."""
    ctx.cache = kind
    ctx.answered = True
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
