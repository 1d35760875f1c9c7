"""The cache stage in process: coalescing (a leader that vanished without finishing holds
its followers only until its own deadline), and the semantic cache with the real
MiniLM — paraphrases hit, the guard refuses flips, tenants never share, stale entries
leave the index, verification catches a wrong cached answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import msgspec
import pytest
import pytest_asyncio

from envelope.cache.memory import MemoryAnswers
from envelope.cache.semantic import SemanticCache
from envelope.cache.semantic_index import SemanticIndex
from envelope.config.documents import CacheDoc, RouteDoc
from envelope.core.envelope import Overrides, bind
from envelope.embeddings.embedder import Embedder
from envelope.pipeline.cache import Cache
from envelope.pipeline.context import RequestContext

pytestmark = pytest.mark.asyncio(loop_scope="module")
ROUTE = RouteDoc(name="r", cache={"exact": True})  # type: ignore[arg-type]


def context(request_id: str, budget_s: float) -> RequestContext:
    ctx = RequestContext(request_id, "chat", {}, b"")
    ctx.route, ctx.route_name, ctx.tenant = ROUTE, "r", "acme"
    ctx.envelope = bind(ROUTE, Overrides())
    ctx.deadline = time.perf_counter() + budget_s
    ctx.raw = {"model": "m", "messages": [{"role": "user", "content": "same"}]}
    return ctx


async def test_followers_give_up_on_a_vanished_leader_at_its_deadline() -> None:
    cache = Cache(MemoryAnswers(10), CacheDoc(), {"r": "v1"}, routes={"r": ROUTE})
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
    cache = Cache(MemoryAnswers(10), CacheDoc(), {"r": "v1"}, routes={"r": ROUTE})
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


# --- the semantic cache, in process with the real MiniLM ---------------------------

SEMANTIC = RouteDoc(name="r", cache={"exact": True, "semantic": {"threshold": 0.85}})  # type: ignore[arg-type]
VERIFIED = RouteDoc(
    name="r",
    cache={"exact": True, "semantic": {"threshold": 0.85, "verify_rate": 1.0}},  # type: ignore[arg-type]
)


def completion(text: str) -> bytes:
    return msgspec.json.encode(
        {
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
        }
    )


def asking(question: str, route: RouteDoc, tenant: str = "acme", request_id: str = "1") -> RequestContext:
    ctx = context(request_id, budget_s=30.0)
    ctx.route, ctx.tenant = route, tenant
    ctx.envelope = bind(route, Overrides())
    ctx.raw = {"model": "m", "messages": [{"role": "user", "content": question}]}
    return ctx


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def embedder() -> AsyncIterator[Embedder]:
    model = Embedder()
    await model.embed(["warm up"])  # loaded before the first lookup, as the gateway does at start
    yield model
    await model.close()


def semantic_cache(route: RouteDoc, embedder: Embedder, store: MemoryAnswers | None = None) -> Cache:
    return Cache(
        store or MemoryAnswers(100),
        CacheDoc(),
        {"r": "v1"},
        routes={"r": route},
        semantic=SemanticCache(SemanticIndex(max_entries=100), None, sync_interval_s=1.0),
        embedder=embedder,
    )


async def answered(cache: Cache, question: str, answer: str, route: RouteDoc) -> None:
    ctx = asking(question, route)
    await cache.run(ctx)
    assert ctx.cache == "miss"
    ctx.status, ctx.answer = 200, completion(answer)
    await cache.finish(ctx)


async def test_a_paraphrase_is_answered_with_the_cached_answer(embedder: Embedder) -> None:
    cache = semantic_cache(SEMANTIC, embedder)
    await answered(cache, "How do I reset my password?", "Use the 'Forgot password' link.", SEMANTIC)
    ctx = asking("how can I reset my password", SEMANTIC, request_id="2")
    await cache.run(ctx)
    assert ctx.cache == "semantic" and ctx.answered and ctx.output_tokens == 7
    assert ctx.semantic is not None and ctx.semantic.similarity is not None and ctx.semantic.similarity >= 0.85
    assert b"Forgot password" in (ctx.answer or b"")


async def test_the_guard_refuses_a_negated_question_and_says_why(embedder: Embedder) -> None:
    cache = semantic_cache(SEMANTIC, embedder)
    await answered(cache, "Can I return an opened item?", "Yes, within 30 days.", SEMANTIC)
    ctx = asking("Can I not return an opened item?", SEMANTIC, request_id="2")
    await cache.run(ctx)
    assert ctx.cache == "miss" and not ctx.answered
    assert ctx.semantic is not None and ctx.semantic.guard == "negation"


async def test_never_a_semantic_hit_across_tenants(embedder: Embedder) -> None:
    cache = semantic_cache(SEMANTIC, embedder)
    await answered(cache, "What is the refund policy?", "30 days.", SEMANTIC)
    ctx = asking("What is the refund policy?", SEMANTIC, tenant="beta", request_id="2")
    await cache.run(ctx)
    assert ctx.cache == "miss"


async def test_an_answer_gone_from_the_store_is_dropped_from_the_index(embedder: Embedder) -> None:
    store = MemoryAnswers(100)
    cache = semantic_cache(SEMANTIC, embedder, store)
    await answered(cache, "What is the refund policy?", "30 days.", SEMANTIC)
    await store.purge()  # e.g. expired in a shared store
    ctx = asking("what's your refund policy", SEMANTIC, request_id="2")
    await cache.run(ctx)
    assert ctx.cache == "miss"
    assert cache._semantic is not None and len(cache._semantic.index) == 0


async def test_verification_compares_the_fresh_answer_and_drops_a_wrong_cached_one(embedder: Embedder) -> None:
    cache = semantic_cache(VERIFIED, embedder)
    await answered(cache, "What is the capital of France?", "The capital of France is Paris.", VERIFIED)

    agreeing = asking("what's France's capital city", VERIFIED, request_id="2")
    await cache.run(agreeing)
    assert agreeing.cache == "miss" and agreeing.semantic is not None and agreeing.semantic.check is not None
    agreeing.status, agreeing.answer = 200, completion("Paris is the capital of France.")
    await cache.finish(agreeing)
    assert agreeing.semantic.verdict == "agree"

    disagreeing = asking("which city is the capital of France", VERIFIED, request_id="3")
    await cache.run(disagreeing)
    assert disagreeing.semantic is not None and disagreeing.semantic.check is not None
    disagreeing.status, disagreeing.answer = 200, completion("I do not know, sorry; ask a travel agent.")
    await cache.finish(disagreeing)
    assert disagreeing.semantic.verdict == "disagree"
    assert cache._semantic is not None
    remaining = [
        c.entry.text for c in cache._semantic.search(disagreeing.semantic.partition, disagreeing.semantic.vector, k=8)
    ]  # type: ignore[arg-type]
    assert disagreeing.semantic.check_key not in [
        c.entry.key for c in cache._semantic.search(disagreeing.semantic.partition, disagreeing.semantic.vector, k=8)
    ]  # type: ignore[arg-type]
    assert "which city is the capital of France" in remaining
