"""The cache stage's coalescing, in process: a leader that vanished without finishing
(its task cancelled) holds its followers only until its own deadline."""

from __future__ import annotations

import asyncio
import time

from envelope.cache.memory import MemoryAnswers
from envelope.config.documents import CacheDoc, RouteDoc
from envelope.core.envelope import Overrides, bind
from envelope.pipeline.cache import Cache
from envelope.pipeline.context import RequestContext

ROUTE = RouteDoc(name="r", cache={"exact": True})  # type: ignore[arg-type]


def context(request_id: str, budget_s: float) -> RequestContext:
    ctx = RequestContext(request_id, "chat", {}, b"")
    ctx.route, ctx.route_name, ctx.tenant = ROUTE, "r", "acme"
    ctx.envelope = bind(ROUTE, Overrides())
    ctx.deadline = time.perf_counter() + budget_s
    ctx.raw = {"model": "m", "messages": [{"role": "user", "content": "same"}]}
    return ctx


async def test_followers_give_up_on_a_vanished_leader_at_its_deadline() -> None:
    cache = Cache(MemoryAnswers(10), CacheDoc(), {"r": "v1"})
    leader = context("1", budget_s=0.2)
    await cache.run(leader)
    assert leader.cache_leader and leader.cache == "miss"
    # the leader never finishes; a follower waits no longer than the leader's deadline
    follower = context("2", budget_s=30.0)
    started = time.perf_counter()
    await cache.run(follower)
    assert time.perf_counter() - started < 1.0
    assert not follower.answered and not follower.cache_leader
    # the next identical request finds the stale flight and leads a new one
    late = context("3", budget_s=30.0)
    await cache.run(late)
    assert late.cache_leader


async def test_a_finished_leader_hands_its_answer_to_waiting_followers() -> None:
    cache = Cache(MemoryAnswers(10), CacheDoc(), {"r": "v1"})
    leader = context("1", budget_s=5.0)
    await cache.run(leader)
    follower = context("2", budget_s=5.0)
    waiting = asyncio.ensure_future(cache.run(follower))
    await asyncio.sleep(0.05)
    leader.status, leader.answer = (
        200,
        (
            b'{"choices":[{"message":{"content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}'
        ),
    )
    await cache.finish(leader)
    await waiting
    assert (follower.cache, follower.answer, follower.output_tokens) == ("coalesced", leader.answer, 1)
    again = context("3", budget_s=5.0)
    await cache.run(again)
    assert again.cache == "exact"
