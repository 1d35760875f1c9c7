"""Replicas' semantic indexes kept in step through the Redis feed (127.0.0.1:6379):
a replica that starts later is seeded with what the others indexed; additions, drops
and purges reach the others at their next sync; a replica skips its own records."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import numpy as np
import pytest

from envelope.cache.redis import RedisFeed
from envelope.cache.semantic import SemanticCache
from envelope.cache.semantic_index import Entry, SemanticIndex

REDIS = "redis://127.0.0.1:6379/0"
FAR = time.time() + 3600


def replica(prefix: str) -> SemanticCache:
    feed = RedisFeed(REDIS, prefix=prefix, timeout_s=2.0, max_records=1000)
    return SemanticCache(SemanticIndex(max_entries=1000), feed, sync_interval_s=3600)


def vector(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(384).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    yield f"test:{uuid.uuid4().hex}:"


async def test_a_later_replica_is_seeded_and_changes_travel(prefix: str) -> None:
    first = replica(prefix)
    await first.start()
    await first.add("acme:faq:p", vector(1), Entry("acme:faq:k1", "What is SSO?", FAR))
    await first.add("acme:chat:p", vector(2), Entry("acme:chat:k2", "hello", FAR))
    second = replica(prefix)
    await second.start()  # seeds from the feed
    try:
        found = second.search("acme:faq:p", vector(1), k=1)
        assert [c.entry.key for c in found] == ["acme:faq:k1"] and found[0].entry.text == "What is SSO?"
        assert abs(found[0].similarity - 1.0) < 1e-4

        await second.add("acme:faq:p", vector(3), Entry("acme:faq:k3", "What is SAML?", FAR))
        assert await first.sync() == 1  # the other's addition; its own two are skipped
        assert first.search("acme:faq:p", vector(3), k=1)[0].entry.key == "acme:faq:k3"

        await first.drop("acme:faq:p", "acme:faq:k1")
        await first.purge(tenant=None, route="chat")
        assert await second.sync() == 2
        assert [c.entry.key for c in second.search("acme:faq:p", vector(1), k=4)] == ["acme:faq:k3"]
        assert second.search("acme:chat:p", vector(2), k=1) == []
        assert len(second.index) == 1
    finally:
        await first.close()
        await second.close()


async def test_an_unreachable_feed_leaves_a_working_local_index() -> None:
    feed = RedisFeed("redis://127.0.0.1:1/0", prefix="x:", timeout_s=0.2, max_records=10)
    cache = SemanticCache(SemanticIndex(max_entries=10), feed, sync_interval_s=3600)
    await cache.start()  # logs and starts empty
    try:
        await cache.add("t:r:p", vector(1), Entry("t:r:k", "q", FAR))  # the publish fails quietly
        assert cache.search("t:r:p", vector(1), k=1)[0].entry.key == "t:r:k"
    finally:
        await cache.close()
