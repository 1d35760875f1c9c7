"""End to end through real HTTP: the official openai SDK → Envelope → the fake upstream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.support.processes import FakeUpstream, Gateway, start_gateway


def config(upstream: FakeUpstream) -> dict[str, Any]:
    return {
        "models": [
            {
                "name": "gpt-4o-mini",
                "tier": "M",
                "tokenizer": {"type": "tiktoken", "encoding": "o200k_base"},
                "prices": {"input_per_1m": 0.15, "output_per_1m": 0.6},
                "deployments": [
                    {"name": "fake-1", "provider": {"type": "openai", "base_url": upstream.url(), "model": "fake"}}
                ],
            },
            {
                "name": "embed-fake",
                "embedding": True,
                "prices": {"input_per_1m": 0.02},
                "deployments": [
                    {"name": "fake-embed", "provider": {"type": "openai", "base_url": upstream.url(), "model": "e"}}
                ],
            },
        ],
        "routes": [
            {"name": "default", "max_output_tokens": 64, "cost_ceiling_usd": 0.01},
            {"name": "support", "max_output_tokens": 32},
        ],
        "tenants": [{"name": "acme", "default_route": "default", "default_feature": "chat"}],
    }


@pytest.fixture(scope="module")
def gateway(fake_upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = start_gateway(tmp_path_factory.mktemp("gw"), config(fake_upstream))
    yield gw
    gw.stop()


def client(gw: Gateway, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url, api_key=gw.key, default_headers=headers, max_retries=0)


def test_non_streaming_completion_with_envelope_headers(gateway: Gateway) -> None:
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Say hello"}], max_tokens=5
    )
    completion = raw.parse()
    assert completion.choices[0].message.content
    assert completion.usage is not None and completion.usage.completion_tokens == 5
    h = raw.headers
    assert h["x-envelope-model"] == "gpt-4o-mini"
    assert h["x-envelope-deployment"] == "fake-1"
    assert h["x-envelope-tier"] == "M"
    assert h["x-envelope-route"] == "default"
    assert h["x-envelope-max-tokens"] == "5"
    assert h["x-envelope-output-tokens"] == "5"
    assert h["x-envelope-degradations"] == "none"
    cost = (completion.usage.prompt_tokens * 0.15 + 5 * 0.6) / 1e6
    assert float(h["x-envelope-cost-usd"]) == pytest.approx(cost, rel=1e-6)


def test_streaming_relays_every_chunk_and_reports_usage_when_asked(gateway: Gateway) -> None:
    stream = client(gateway).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Count"}],
        max_tokens=20,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len([c for c in chunks if c.choices]) >= 2
    assert text.strip()
    usage = [c.usage for c in chunks if c.usage is not None]
    assert len(usage) == 1 and usage[0].completion_tokens == 20


def test_streaming_hides_usage_chunk_the_client_did_not_ask_for(gateway: Gateway) -> None:
    chunks = list(
        client(gateway).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}], max_tokens=4, stream=True
        )
    )
    assert chunks and all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)


def test_request_headers_tighten_the_envelope(gateway: Gateway) -> None:
    raw = client(
        gateway,
        **{"x-envelope-latency-budget-ms": "1500", "x-envelope-cost-budget": "0.00002", "x-envelope-mode": "fast"},
    ).chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    h = raw.headers
    assert h["x-envelope-latency-budget-ms"] == "1500"
    assert h["x-envelope-mode"] == "fast"
    # $0.00002 leaves room for only a few output tokens at $0.60/1M: capped by cost, and said so
    assert int(h["x-envelope-max-tokens"]) < 64
    assert "max_tokens_capped_by_cost" in h["x-envelope-degradations"]
    assert float(h["x-envelope-worst-case-usd"]) <= 0.00002


def test_envelope_field_in_body_when_asked(gateway: Gateway) -> None:
    raw = client(gateway, **{"x-envelope-report": "true"}).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=100
    )
    body = raw.http_response.json()
    assert body["envelope"]["max_tokens"] == 64
    assert body["envelope"]["degradations"] == ["max_tokens_capped"]
    assert body["envelope"]["deployment"] == "fake-1"


def test_route_and_feature_tags_reach_the_ledger(gateway: Gateway) -> None:
    raw = client(
        gateway, **{"x-envelope-route": "support", "x-envelope-feature": "faq"}
    ).chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "tagged"}])
    request_id = raw.headers["x-envelope-request-id"]
    assert raw.headers["x-envelope-max-tokens"] == "32"
    row = gateway.ledger_row(request_id)
    assert (row["route"], row["feature"], row["tenant"], row["status"]) == ("support", "faq", "acme", 200)
    assert row["deployment"] == "fake-1" and row["cache"] == "off"  # the route does not cache
    assert row["input_tokens"] > 0 and row["output_tokens"] == 32  # the fake answers max_tokens words


def test_embeddings_and_models(gateway: Gateway) -> None:
    c = client(gateway)
    result = c.embeddings.create(model="embed-fake", input=["one", "two"], encoding_format="float")
    assert len(result.data) == 2 and len(result.data[0].embedding) > 0
    models = {m.id for m in c.models.list()}
    assert models == {"auto", "gpt-4o-mini", "embed-fake"}  # auto: the route chooses among its chat models


def test_metrics_count_requests_tokens_and_cost(gateway: Gateway) -> None:
    import urllib.request

    client(gateway).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "m"}], max_tokens=3
    )
    text = urllib.request.urlopen(f"{gateway.root}/metrics").read().decode()
    assert 'envelope_requests_total{model="gpt-4o-mini",route="default",status="200",tenant="acme"}' in text
    assert "envelope_request_duration_seconds_bucket" in text
    assert 'envelope_tokens_total{kind="output",model="gpt-4o-mini",route="default",tenant="acme"}' in text
    assert "envelope_cost_usd_total" in text


def test_ledger_is_flushed_on_shutdown(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    doc = config(fake_upstream)
    doc["gateway"] = {"ledger": {"batch_size": 10_000, "flush_interval_ms": 3_600_000}}
    gw = start_gateway(tmp_path, doc)
    try:
        c = client(gw)
        for _ in range(7):
            c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}], max_tokens=2)
        assert gw.ledger(timeout=0.3) == []  # nothing written yet: batch not full, interval far off
    finally:
        gw.stop()
    assert len(gw.ledger()) == 7
