"""Upstream faults, injected with the fake upstream: each ends as a clear error in
OpenAI's shape (502/504), or falls back to the next deployment, and is in the ledger."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.support.processes import FakeUpstream, Gateway, start_gateway


def model(name: str, *base_urls: str, timeout_s: float = 30.0, idle_s: float = 30.0) -> dict[str, Any]:
    return {
        "name": name,
        "tokenizer": {"type": "tiktoken"},
        "prices": {"input_per_1m": 1.0, "output_per_1m": 2.0},
        "deployments": [
            {
                "name": f"{name}-{i}",
                "provider": {"type": "openai", "base_url": url, "model": "fake"},
                "timeout_s": timeout_s,
                "stream_idle_timeout_s": idle_s,
            }
            for i, url in enumerate(base_urls)
        ],
    }


@pytest.fixture(scope="module")
def gateway(fake_upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    up = fake_upstream
    doc = {
        "models": [
            model("m-500", up.url("status-500")),
            model("m-429", up.url("status-429")),
            model("m-400", up.url("status-400")),
            model("m-hang", up.url("hang"), timeout_s=0.5),
            model("m-slow", up.url("slow-first-token-3000"), timeout_s=30),
            model("m-cut", up.url("cut")),
            model("m-malformed", up.url("malformed")),
            model("m-no-usage", up.url("no-usage")),
            model("m-fallback", up.url("status-503"), up.url()),
            model("m-refused", "http://127.0.0.1:9/v1"),
        ],
        "routes": [{"name": "default", "max_output_tokens": 40}],
        "tenants": [{"name": "acme"}],
    }
    gw = start_gateway(tmp_path_factory.mktemp("faults"), doc)
    yield gw
    gw.stop()


def client(gw: Gateway, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0, default_headers=headers, timeout=20)


MESSAGES: Any = [{"role": "user", "content": "hello"}]


def failed_row(gw: Gateway, err: openai.APIStatusError) -> dict[str, Any]:
    return gw.ledger_row(err.response.headers["x-envelope-request-id"])


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("m-500", 502, "upstream_failed"),
        ("m-429", 502, "upstream_rate_limited"),
        ("m-400", 400, "upstream_rejected"),
        ("m-malformed", 502, "upstream_malformed"),
        ("m-refused", 502, "upstream_failed"),
    ],
)
def test_upstream_errors_become_clear_errors(gateway: Gateway, name: str, status: int, code: str) -> None:
    with pytest.raises(openai.APIStatusError) as err:
        client(gateway).chat.completions.create(model=name, messages=MESSAGES)
    assert err.value.status_code == status
    body = err.value.body
    assert isinstance(body, dict) and body["code"] == code and body["type"]
    row = failed_row(gateway, err.value)
    assert (row["status"], row["error_code"], row["model"]) == (status, code, name)


def test_a_hanging_upstream_times_out_as_504(gateway: Gateway) -> None:
    with pytest.raises(openai.APIStatusError) as err:
        client(gateway).chat.completions.create(model="m-hang", messages=MESSAGES)
    assert err.value.status_code == 504
    assert failed_row(gateway, err.value)["status"] == 504


def test_latency_budget_header_bounds_the_wait(gateway: Gateway) -> None:
    with pytest.raises(openai.APIStatusError) as err:
        client(gateway, **{"x-envelope-latency-budget-ms": "300"}).chat.completions.create(
            model="m-slow", messages=MESSAGES, stream=True
        )
    assert err.value.status_code == 504
    row = failed_row(gateway, err.value)
    assert 250 <= row["latency_ms"] < 2000


def test_fallback_walks_to_the_next_deployment_and_says_so(gateway: Gateway) -> None:
    raw = client(gateway).chat.completions.with_raw_response.create(model="m-fallback", messages=MESSAGES)
    assert raw.parse().choices[0].message.content
    assert raw.headers["x-envelope-deployment"] == "m-fallback-1"
    assert raw.headers["x-envelope-degradations"] == "fallback_from:m-fallback-0"
    row = gateway.ledger_row(raw.headers["x-envelope-request-id"])
    assert row["status"] == 200 and row["degradations"] == "fallback_from:m-fallback-0"


def test_a_cut_stream_ends_with_an_error_event_never_a_clean_end(gateway: Gateway) -> None:
    stream = client(gateway).chat.completions.create(model="m-cut", messages=MESSAGES, stream=True)
    received: list[str] = []
    with pytest.raises(openai.APIError, match="truncated"):
        for chunk in stream:
            received.extend(c.delta.content or "" for c in chunk.choices)
    assert received  # the part before the cut was relayed
    row = gateway.ledger_row(stream.response.headers["x-envelope-request-id"])
    assert (row["status"], row["error_code"]) == (502, "stream_truncated")
    assert row["output_tokens"] > 0


def test_stream_without_usage_is_counted_by_envelope(gateway: Gateway) -> None:
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="m-no-usage", messages=MESSAGES, stream=True, max_tokens=12
    )
    text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    row = gateway.ledger_row(raw.headers["x-envelope-request-id"])
    assert row["status"] == 200
    # counted with the model's own tokenizer (o200k): "word" and " word" are one token each
    assert row["output_tokens"] == len(text.split()) == 12
    assert row["ttft_ms"] is not None and row["ttft_ms"] <= row["latency_ms"]


def test_a_silent_stream_is_cut_at_the_idle_timeout_with_an_error_event(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    doc = {
        "models": [model("m-drip", fake_upstream.url("slow-stream-1000"), idle_s=0.3)],
        "routes": [{"name": "default"}],
        "tenants": [{"name": "acme"}],
    }
    gw = start_gateway(tmp_path, doc)
    try:
        stream = client(gw).chat.completions.create(model="m-drip", messages=MESSAGES, stream=True)
        with pytest.raises(openai.APIError, match="silent"):
            for _ in stream:
                pass
        row = gw.ledger_row(stream.response.headers["x-envelope-request-id"])
        assert (row["status"], row["error_code"]) == (504, "upstream_timeout")
    finally:
        gw.stop()


def test_a_client_leaving_mid_stream_is_recorded_as_abandoned(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    doc = {
        "models": [model("m-drip", fake_upstream.url("slow-stream-150"))],
        "routes": [{"name": "default"}],
        "tenants": [{"name": "acme"}],
    }
    gw = start_gateway(tmp_path, doc)
    try:
        stream = client(gw).chat.completions.create(model="m-drip", messages=MESSAGES, stream=True)
        first = next(iter(stream))
        assert first.choices
        request_id = stream.response.headers["x-envelope-request-id"]
        stream.close()  # the client goes away after the first chunk
        row = gw.ledger_row(request_id)
        assert (row["status"], row["error_code"]) == (499, "client_closed_request")
        assert row["latency_ms"] < 2000  # noticed at the next chunk, not after the whole answer (20 × 150 ms)
    finally:
        gw.stop()


def test_retries_then_breaker_opens_and_the_walk_skips_the_deployment(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    bad = {
        "name": "bad",
        "provider": {"type": "openai", "base_url": fake_upstream.url("status-503"), "model": "x"},
        "retries": 1,
        "backoff_ms": 10,
        "breaker": {"failure_threshold": 2, "open_s": 0.5},
    }
    good = {"name": "good", "provider": {"type": "openai", "base_url": fake_upstream.url(), "model": "x"}}
    doc = {
        "models": [{"name": "m", "tokenizer": {"type": "tiktoken"}, "deployments": [bad, good]}],
        "routes": [{"name": "default"}],
        "tenants": [{"name": "acme"}],
    }
    gw = start_gateway(tmp_path, doc)
    try:
        c = client(gw)
        first = c.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
        assert first.headers["x-envelope-degradations"] == "retry:bad,fallback_from:bad"  # 2 failures: now open
        assert first.headers["x-envelope-deployment"] == "good"
        second = c.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
        assert second.headers["x-envelope-degradations"] == "breaker_open:bad"  # skipped without an attempt
        time.sleep(0.6)  # half-open: one probe goes to `bad` again, fails, and it reopens
        third = c.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
        assert third.headers["x-envelope-degradations"] == "fallback_from:bad"
        fourth = c.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
        assert fourth.headers["x-envelope-degradations"] == "breaker_open:bad"
        row = gw.ledger_row(first.headers["x-envelope-request-id"])
        assert row["degradations"] == "retry:bad,fallback_from:bad" and row["status"] == 200
    finally:
        gw.stop()


def test_upstream_4xx_is_not_retried(gateway: Gateway) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client(gateway).chat.completions.create(model="m-400", messages=MESSAGES)
    assert "retry" not in err.value.response.headers["x-envelope-degradations"]


def test_hedged_request_beats_a_slow_deployment(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    def deployment(name: str, mode: str) -> dict[str, Any]:
        return {"name": name, "provider": {"type": "openai", "base_url": fake_upstream.url(mode), "model": "x"}}

    def served(name: str, *deployments: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "tokenizer": {"type": "tiktoken"}, "deployments": list(deployments)}

    doc = {
        "models": [
            served("slow-first", deployment("slow", "delay-1500"), deployment("quick", "")),
            served("quick-first", deployment("quick2", ""), deployment("slow2", "delay-1500")),
            served("both-bad", deployment("b1", "status-500"), deployment("b2", "status-503")),
            served("slow-stream", deployment("slow3", "slow-first-token-1500"), deployment("quick3", "")),
        ],
        "routes": [{"name": "default", "hedge": True, "hedge_after_ms": 150}],
        "tenants": [{"name": "acme"}],
    }
    gw = start_gateway(tmp_path, doc)
    try:
        c = client(gw)
        started = time.monotonic()
        raw = c.chat.completions.with_raw_response.create(model="slow-first", messages=MESSAGES)
        assert time.monotonic() - started < 1.0  # did not wait for the slow one
        assert raw.headers["x-envelope-deployment"] == "quick"
        assert raw.headers["x-envelope-degradations"] == "hedged:quick"
        quick = c.chat.completions.with_raw_response.create(model="quick-first", messages=MESSAGES)
        assert quick.headers["x-envelope-degradations"] == "none"  # answered before the hedge delay
        with pytest.raises(openai.APIStatusError) as err:
            c.chat.completions.create(model="both-bad", messages=MESSAGES)
        assert err.value.status_code == 502
        # streams race to the first event: the slow stream is hung up on, the quick one relayed whole
        started = time.monotonic()
        stream = c.chat.completions.with_raw_response.create(model="slow-stream", messages=MESSAGES, stream=True)
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream.parse() if chunk.choices)
        assert time.monotonic() - started < 1.0 and text
        assert stream.headers["x-envelope-deployment"] == "quick3"
        assert stream.headers["x-envelope-degradations"] == "hedged:quick3"
    finally:
        gw.stop()


def test_hedging_needs_a_delay() -> None:
    from envelope.config.documents import RouteDoc

    with pytest.raises(ValueError, match="hedge needs"):
        RouteDoc(name="r", hedge=True)


def test_prefix_affinity_sends_a_shared_prefix_to_one_deployment(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    deployments = [
        {"name": f"replica-{i}", "provider": {"type": "openai", "base_url": fake_upstream.url(), "model": "x"}}
        for i in range(3)
    ]
    doc = {
        "models": [
            {"name": "m", "tokenizer": {"type": "tiktoken"}, "balance": "prefix_affinity", "deployments": deployments}
        ],
        "routes": [{"name": "default"}],
        "tenants": [{"name": "acme"}],
    }
    gw = start_gateway(tmp_path, doc)
    try:
        c = client(gw)

        def served(system: str) -> str:
            raw = c.chat.completions.with_raw_response.create(
                model="m", messages=[{"role": "system", "content": system}, {"role": "user", "content": "q"}]
            )
            return raw.headers["x-envelope-deployment"]

        assert len({served("You are the billing assistant.") for _ in range(5)}) == 1
        assert len({served(f"You are assistant number {i}.") for i in range(30)}) == 3
    finally:
        gw.stop()


def test_ewma_balancing_learns_to_prefer_the_faster_deployment(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    deployments = [
        {"name": "slow", "provider": {"type": "openai", "base_url": fake_upstream.url("delay-150"), "model": "x"}},
        {"name": "fast", "provider": {"type": "openai", "base_url": fake_upstream.url(), "model": "x"}},
    ]
    doc = {
        "models": [{"name": "m", "tokenizer": {"type": "tiktoken"}, "balance": "ewma", "deployments": deployments}],
        "routes": [{"name": "default"}],
        "tenants": [{"name": "acme"}],
    }
    gw = start_gateway(tmp_path, doc)
    try:
        c = client(gw)
        served = [
            c.chat.completions.with_raw_response.create(model="m", messages=MESSAGES).headers["x-envelope-deployment"]
            for _ in range(10)
        ]
        assert set(served[:2]) == {"slow", "fast"}  # each measured once
        assert served[2:] == ["fast"] * 8
    finally:
        gw.stop()
