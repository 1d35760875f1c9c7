"""Sampled payloads: the request as the client sent it and the answer, PII redacted,
written in the background; client errors and unauthenticated requests are not kept."""

from __future__ import annotations

import json

import msgspec

from envelope.keys import KeyRecord
from envelope.ledger.samples import Sampler
from envelope.store.memory import MemoryStore
from envelope.wire import ChatRequest

EMAIL = "jane.doe@example.com"


def finished(request_id: str, status: int = 200, *, body: dict[str, object] | None = None) -> object:
    from envelope.pipeline.context import RequestContext

    sent = body or {
        "model": "auto",
        "max_tokens": 32,
        "temperature": 0,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": f"Mail {EMAIL} please"}]},
        ],
    }
    ctx = RequestContext(request_id, "chat", {}, json.dumps(sent).encode())
    ctx.key = KeyRecord(id="k1", tenant="acme", role="tenant", route=None, feature=None, name=None, created_at=0.0)
    ctx.tenant, ctx.route_name, ctx.status = "acme", "chat", status
    ctx.chat = msgspec.convert(sent, ChatRequest)
    ctx.config_version = 7
    ctx.answer_text = [f"Sent to {EMAIL}."]
    ctx.finished_at = ctx.started + 0.2
    return ctx


async def test_a_sampled_request_is_kept_whole_and_redacted() -> None:
    store = MemoryStore()
    sampler = Sampler(store, 1.0)
    sampler.observe(finished("a"))  # type: ignore[arg-type]
    assert await sampler.flush() == 1
    [kept] = await store.list_samples()
    request = json.loads(kept.request)
    assert request["max_tokens"] == 32 and request["temperature"] == 0 and request["model"] == "auto"
    assert request["messages"][0] == {"role": "system", "content": "Be brief."}
    assert request["messages"][1]["content"][0]["text"] == "Mail <EMAIL_ADDRESS> please"
    assert kept.answer == "Sent to <EMAIL_ADDRESS>."
    assert EMAIL not in kept.request + kept.answer
    assert (kept.tenant, kept.route, kept.config_version, kept.status) == ("acme", "chat", 7, 200)
    assert 150 < kept.latency_ms < 250


async def test_only_the_drawn_share_of_answered_requests_is_kept() -> None:
    store = MemoryStore()
    draws = iter([0.05, 0.5, 0.01, 0.09])
    sampler = Sampler(store, 0.1, draw=lambda: next(draws))
    for i in range(4):
        sampler.observe(finished(f"r{i}"))  # type: ignore[arg-type]
    sampler.observe(finished("bad", status=400))  # type: ignore[arg-type]  # the client's mistake: not drawn
    await sampler.close()  # flushes what waits
    assert [s.request_id for s in await store.list_samples()] == ["r0", "r2", "r3"]


async def test_nothing_is_kept_at_rate_zero() -> None:
    store = MemoryStore()
    sampler = Sampler(store, 0.0)
    sampler.observe(finished("a"))  # type: ignore[arg-type]
    assert await sampler.flush() == 0 and await store.list_samples() == []
