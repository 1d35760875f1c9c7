"""The semantic cache through a real gateway, with the openai SDK as the client and the
real MiniLM in the gateway: a reworded question is answered from the cache (JSON and
SSE), a negated one is refused by the guard and says so in the ledger and /metrics, a
streamed miss is kept, verification records its verdict, an event drops a route's
answers, and a second replica sharing Redis answers from what the first indexed. The
upstream is the fake (its answers are deterministic, so hits are seen in headers)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.support.processes import FakeUpstream, Gateway, start_gateway

REDIS = "redis://127.0.0.1:6379/0"


def config(fake_upstream: FakeUpstream, **gateway: Any) -> dict[str, Any]:
    semantic = {"threshold": 0.85}
    return {
        "gateway": gateway,
        "models": [
            {
                "name": "m",
                "deployments": [
                    {"name": "m-0", "provider": {"type": "openai", "base_url": fake_upstream.url(), "model": "x"}}
                ],
            }
        ],
        "routes": [
            {
                "name": "faq",
                "max_output_tokens": 100,
                "cache": {"exact": True, "semantic": semantic, "invalidate_on": ["kb:handbook"]},
            },
            {
                "name": "verified",
                "max_output_tokens": 100,
                "cache": {"exact": True, "semantic": semantic | {"verify_rate": 1.0}},
            },
        ],
        "tenants": [{"name": "acme", "default_route": "faq"}, {"name": "beta", "default_route": "faq"}],
    }


@pytest.fixture(scope="module")
def gateway(fake_upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = start_gateway(tmp_path_factory.mktemp("semantic"), config(fake_upstream))
    yield gw
    gw.stop()


def client(gw: Gateway, route: str = "faq", key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=gw.base_url,
        api_key=key or gw.key,
        max_retries=0,
        timeout=20,
        default_headers={"x-envelope-route": route},
    )


def ask(gw: Gateway, text: str, route: str = "faq", key: str | None = None) -> Any:
    return client(gw, route, key).chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": text}]
    )


def metrics(gw: Gateway) -> str:
    return urllib.request.urlopen(f"{gw.root}/metrics").read().decode()


def test_a_reworded_question_is_a_semantic_hit_recorded_in_the_ledger(gateway: Gateway) -> None:
    assert ask(gateway, "How do I reset my password?").headers["x-envelope-cache"] == "miss"
    hit = ask(gateway, "how can I reset my password")
    assert hit.headers["x-envelope-cache"] == "semantic"
    assert hit.parse().choices[0].message.content
    row = gateway.ledger_row(hit.headers["x-envelope-request-id"])
    assert row["cache"] == "semantic" and row["cache_similarity"] >= 0.85 and row["cost_usd"] == 0
    assert 'envelope_cache_lookups_total{outcome="semantic",route="faq"}' in metrics(gateway)


def test_a_negated_question_is_refused_by_the_guard(gateway: Gateway) -> None:
    ask(gateway, "Can I return an opened item?")
    refused = ask(gateway, "Can I not return an opened item?")
    assert refused.headers["x-envelope-cache"] == "miss"
    row = gateway.ledger_row(refused.headers["x-envelope-request-id"])
    assert row["cache"] == "miss" and row["cache_guard"] == "negation"
    assert 'envelope_cache_guarded_total{reason="negation",route="faq"}' in metrics(gateway)


def test_never_a_semantic_hit_across_tenants(gateway: Gateway) -> None:
    beta = gateway.admin("/admin/keys", {"tenant": "beta"})["key"]
    ask(gateway, "Where can I download my invoices?")
    assert ask(gateway, "where do I download my invoices", key=beta).headers["x-envelope-cache"] == "miss"


def test_a_streamed_answer_is_kept_and_a_paraphrase_streams_from_the_cache(gateway: Gateway) -> None:
    def stream(text: str) -> tuple[str, str]:
        raw = client(gateway).chat.completions.with_raw_response.create(
            model="m", messages=[{"role": "user", "content": text}], stream=True
        )
        content = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
        return str(raw.headers["x-envelope-cache"]), content

    kind, streamed = stream("How long does delivery to Canada take?")
    assert kind == "miss" and streamed
    whole = ask(gateway, "How long does delivery to Canada take?")  # kept from the stream
    assert whole.headers["x-envelope-cache"] == "exact"
    assert whole.parse().choices[0].message.content == streamed
    assert stream("how long does shipping to Canada take") == ("semantic", streamed)


def test_verification_sends_the_hit_upstream_and_records_its_verdict(gateway: Gateway) -> None:
    ask(gateway, "What are your opening hours?", route="verified")
    checked = ask(gateway, "what are your opening hours please", route="verified")
    assert checked.headers["x-envelope-cache"] == "miss"  # asked upstream anyway
    row = gateway.ledger_row(checked.headers["x-envelope-request-id"])
    assert row["cache_verdict"] == "agree" and row["cache_similarity"] >= 0.85  # the fake always says the same
    assert 'envelope_cache_verifications_total{route="verified",verdict="agree"}' in metrics(gateway)


def test_an_event_drops_the_answers_of_the_routes_that_listen_to_it(gateway: Gateway) -> None:
    ask(gateway, "How many vacation days do I get?")
    assert ask(gateway, "how many days of vacation do I get").headers["x-envelope-cache"] == "semantic"
    fired = gateway.admin("/admin/cache/events", {"event": "kb:handbook"})
    assert fired["routes"] == ["faq"] and fired["purged"] >= 1
    assert ask(gateway, "how many days of vacation do I get").headers["x-envelope-cache"] == "miss"
    assert gateway.admin("/admin/cache/events", {"event": "nobody-listens"}) == {
        "event": "nobody-listens",
        "routes": [],
        "purged": 0,
    }


def test_bad_purge_and_event_requests_get_4xx(gateway: Gateway) -> None:
    for path, body in (("/admin/cache/purge", {"route": "nope"}), ("/admin/cache/events", {"evnt": "x"})):
        request = urllib.request.Request(
            f"{gateway.root}{path}",
            data=json.dumps(body).encode(),
            headers={"authorization": f"Bearer {gateway.admin_key}", "content-type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(request)
        assert 400 <= failed.value.code < 500
        assert "error" in json.loads(failed.value.read())


def test_a_second_replica_answers_from_what_the_first_indexed(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    shared = {"store_url": REDIS, "key_prefix": f"test:{uuid.uuid4().hex}:", "semantic": {"sync_interval_s": 0.1}}
    doc = config(fake_upstream, cache=shared)
    first = start_gateway(tmp_path / "a", doc)
    try:
        ask(first, "Do you ship to Norway?")
        second = start_gateway(tmp_path / "b", doc)  # seeded from the feed at start
        try:
            assert ask(second, "do you deliver to Norway").headers["x-envelope-cache"] == "semantic"
            ask(second, "Is there a student discount?")
            time.sleep(1.0)  # the first follows the feed every 0.1 s (a miss now would index its own answer)
            assert ask(first, "do you have a student discount").headers["x-envelope-cache"] == "semantic"
        finally:
            second.stop()
    finally:
        first.stop()
