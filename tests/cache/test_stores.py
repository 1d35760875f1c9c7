"""One contract over both answer stores (memory, and Redis on 127.0.0.1:6379), and two
gateway replicas sharing the Redis cache: an answer one of them stored is a hit on
the other."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest

from envelope.cache.memory import MemoryAnswers
from envelope.cache.ports import AnswerStore
from envelope.cache.redis import RedisAnswers
from envelope.core.cache_key import label
from tests.support.processes import FakeUpstream, start_gateway

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[AnswerStore]:
    chosen: AnswerStore
    if request.param == "memory":
        chosen = MemoryAnswers(max_entries=3)
    else:
        chosen = RedisAnswers(REDIS, prefix=f"test:{uuid.uuid4().hex}:", timeout_s=2.0)
    yield chosen
    await chosen.purge()
    await chosen.close()


async def test_put_get_and_expiry(store: AnswerStore) -> None:
    assert await store.get("acme:r:a") is None
    await store.put("acme:r:a", b'{"x":1}', ttl_s=60)
    assert await store.get("acme:r:a") == b'{"x":1}'
    await store.put("acme:r:short", b"gone soon", ttl_s=0.05)
    await asyncio.sleep(0.15)
    assert await store.get("acme:r:short") is None


async def test_purge_by_tenant_keeps_the_others(store: AnswerStore) -> None:
    await store.put("acme:r:1", b"a", ttl_s=60)
    await store.put("acme:r:2", b"b", ttl_s=60)
    await store.put("beta:r:1", b"c", ttl_s=60)
    assert await store.purge("acme") == 2
    assert await store.get("acme:r:1") is None and await store.get("beta:r:1") == b"c"


async def test_purge_by_route_and_by_both(store: AnswerStore) -> None:
    for key in ("acme:faq:1", "acme:chat:1", "beta:faq:1"):
        await store.put(key, b"x", ttl_s=60)
    assert await store.purge(tenant="acme", route="faq") == 1
    assert await store.get("beta:faq:1") == b"x"
    assert await store.purge(route="faq") == 1
    assert await store.get("acme:chat:1") == b"x"


async def test_names_with_colons_and_glob_characters_purge_only_their_own(store: AnswerStore) -> None:
    acme_b = f"{label('a:b')}:{label('r*')}:1"  # tenant "a:b", route "r*"
    a_b = f"{label('a')}:{label('b')}:1"  # tenant "a", route "b": must survive a purge of tenant "a:b"
    await store.put(acme_b, b"x", ttl_s=60)
    await store.put(a_b, b"y", ttl_s=60)
    assert await store.purge(tenant="a:b") == 1
    assert await store.get(a_b) == b"y"


async def test_memory_keeps_the_most_recently_used() -> None:
    store = MemoryAnswers(max_entries=2)
    await store.put("t:r:a", b"a", ttl_s=60)
    await store.put("t:r:b", b"b", ttl_s=60)
    assert await store.get("t:r:a") == b"a"  # a is now the most recent
    await store.put("t:r:c", b"c", ttl_s=60)
    assert await store.get("t:r:b") is None and await store.get("t:r:a") == b"a"


def test_replicas_share_the_redis_cache(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    doc: dict[str, Any] = {
        "gateway": {"cache": {"store_url": REDIS, "key_prefix": f"test:{uuid.uuid4().hex}:"}},
        "models": [
            {
                "name": "m",
                "deployments": [
                    {"name": "d", "provider": {"type": "openai", "base_url": fake_upstream.url(), "model": "x"}}
                ],
            }
        ],
        "routes": [{"name": "default", "max_output_tokens": 100, "cache": {"exact": True}}],
        "tenants": [{"name": "acme"}],
    }
    first, second = start_gateway(tmp_path / "a", doc), start_gateway(tmp_path / "b", doc)
    try:

        def ask(gw: Any) -> str:
            c = openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0, timeout=10)
            raw = c.chat.completions.with_raw_response.create(
                model="m", messages=[{"role": "user", "content": "shared?"}]
            )
            return str(raw.headers["x-envelope-cache"])

        assert ask(first) == "miss"
        assert ask(second) == "exact"
    finally:
        first.stop()
        second.stop()
