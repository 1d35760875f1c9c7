"""The replay runner's pure parts: samples to requests, the tenant filter, outcomes,
similarity (with a fake encoder), --since, and the isolated replay gateway config."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from envelope.config.documents import ConfigSet
from envelope.embeddings.embedder import Embedder
from envelope.evals.client import Reply
from envelope.evals.grader import MiniLMEncoder
from envelope.evals.replay import (
    needs_encoder,
    outcome,
    parse_since,
    replayable,
    request_of,
    similarities,
)
from envelope.evals.replay_gateways import isolated
from envelope.store.records import PayloadSample

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def sample(
    request: dict[str, Any] | str, tenant: str = "acme", route: str = "default", rid: str = "r1"
) -> PayloadSample:
    return PayloadSample(
        request_id=rid,
        ts=NOW.timestamp(),
        tenant=tenant,
        route=route,
        feature=None,
        config_version=1,
        request=request if isinstance(request, str) else json.dumps(request),
        answer="ok",
        status=200,
        model="m",
        tier="M",
        latency_ms=12.0,
        ttft_ms=None,
        cost_usd=0.0001,
        cache="bypass",
    )


CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi <EMAIL_ADDRESS>"}]}


def test_the_request_is_sent_as_recorded_but_never_streamed() -> None:
    recorded = {**CHAT, "temperature": 0, "seed": 7, "stop": ["\n"], "stream": True, "stream_options": {"x": 1}}
    request = request_of(sample(recorded, route="support"))
    assert request.body() == {**CHAT, "temperature": 0, "seed": 7, "stop": ["\n"]}
    assert request.route == "support" and request.model == "m"


def test_a_request_without_a_model_asks_for_auto() -> None:
    assert request_of(sample({"messages": CHAT["messages"]})).body()["model"] == "auto"


@pytest.mark.parametrize("stored", ["not json", json.dumps({"model": "m"}), json.dumps({"messages": []}), "[]"])
def test_an_unreadable_request_is_refused(stored: str) -> None:
    with pytest.raises(ValueError):
        request_of(sample(stored))


def test_samples_of_unknown_tenants_are_skipped_and_counted() -> None:
    samples = [
        sample(CHAT, tenant="acme", rid="1"),
        sample(CHAT, tenant="globex", rid="2"),
        sample(CHAT, tenant="globex", rid="3"),
        sample(CHAT, tenant="initech", rid="4"),
        sample("{", tenant="acme", rid="5"),
    ]
    kept, skipped = replayable(samples, {"acme", "globex"}, {"acme", "initech"})
    assert [r.sample.request_id for r in kept] == ["1"]
    assert skipped == {
        "tenant 'globex' is not in the candidate config": 2,
        "tenant 'initech' is not in the baseline config": 1,
        "the recorded request cannot be read": 1,
    }


def test_outcome_takes_the_gateways_latency_and_facts() -> None:
    headers = {"x-envelope-latency-ms": "41.5", "x-envelope-cost-usd": "0.0002", "x-envelope-tier": "S"}
    got = outcome(Reply(latency_ms=47.0, status=200, text="hi", headers=headers))
    assert got.answered and got.latency_ms == 41.5 and got.cost_usd == 0.0002 and got.tier == "S"
    assert outcome(Reply(latency_ms=47.0, status=200, text="hi")).latency_ms == 47.0  # no header: the client's
    refused = outcome(Reply(latency_ms=3.0, status=429, headers={}, error="HTTP 429: slow down"))
    assert not refused.answered and refused.error == "HTTP 429: slow down"
    assert outcome(Reply(latency_ms=3.0, status=200)).error == "no answer"


class FakeEncoder:
    """Unit vectors: 'same' texts point one way, anything else at 60° (cosine 0.5)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def vectors(self, texts: list[str]) -> NDArray[np.float32]:
        self.asked.extend(texts)
        rows = [[1.0, 0.0] if t.startswith("same") else [0.5, np.sqrt(0.75)] for t in texts]
        return np.array(rows, dtype=np.float32)


def ok(text: str) -> Reply:
    return Reply(latency_ms=1.0, status=200, text=text)


async def test_similarity_is_one_for_identical_answers_and_embedded_otherwise() -> None:
    replies = [
        (ok("Paris."), ok("Paris.")),
        (ok("same answer"), ok("other answer")),
        (ok("x"), Reply(latency_ms=1.0, status=500, error="HTTP 500")),
    ]
    encoder = FakeEncoder()
    scores = await similarities(replies, encoder)
    assert scores[0] == 1.0 and scores[1] == pytest.approx(0.5) and scores[2] is None
    assert encoder.asked == ["same answer", "other answer"]  # only the pair that differs
    assert needs_encoder(replies) and not needs_encoder([replies[0], replies[2]])
    assert await similarities([replies[0]], None) == [1.0]
    with pytest.raises(ValueError):
        await similarities(replies, None)


async def test_similarity_with_minilm() -> None:
    embedder = Embedder()
    try:
        scores = await similarities(
            [
                (ok("The capital of France is Paris."), ok("Paris is the capital of France.")),
                (ok("The capital of France is Paris."), ok("Refunds take five working days.")),
            ],
            MiniLMEncoder(embedder),
        )
    finally:
        await embedder.close()
    assert scores[0] is not None and scores[0] > 0.9
    assert scores[1] is not None and scores[1] < 0.3


@pytest.mark.parametrize(
    ("text", "back_s"), [("90s", 90), ("30m", 1800), ("24h", 86400), ("7d", 7 * 86400), ("2w", 14 * 86400)]
)
def test_since_as_a_duration(text: str, back_s: float) -> None:
    assert parse_since(text, NOW) == NOW.timestamp() - back_s


def test_since_as_an_iso_time() -> None:
    assert parse_since("2025-06-01T10:00:00", NOW) == NOW.timestamp() - 7200  # no zone: UTC
    assert parse_since("2025-06-01T12:00:00+02:00", NOW) == NOW.timestamp() - 7200
    with pytest.raises(ValueError, match="neither a duration"):
        parse_since("yesterday", NOW)


def test_a_replay_gateway_shares_nothing_with_production(tmp_path: Path) -> None:
    local = {"name": "local-0", "provider": {"type": "local", "port": 8181, "model_path": "models/smol.gguf"}}
    config = ConfigSet.model_validate(
        {
            "gateway": {
                "database_url": "postgresql+asyncpg://prod/envelope",
                "ledger": {"sample_payloads": 0.5},
                "admission": {"store_url": "redis://prod:6379/0"},
                "cache": {"store_url": "redis://prod:6379/1"},
                "telemetry": {"otlp_endpoint": "http://collector:4318/v1/traces"},
                "slo": {"sinks": [{"type": "webhook", "url": "https://pager.example.com"}]},
                "knowledge": {"directory": "kb"},
            },
            "models": [{"name": "m", "deployments": [local]}],
            "routes": [{"name": "default"}],
            "tenants": [{"name": "acme"}],
        }
    )
    document = isolated(config, cwd=tmp_path, port=lambda: 40123)
    gateway = document["gateway"]
    assert "database_url" not in gateway  # start_gateway puts SQLite in the gateway's directory
    assert gateway["ledger"]["sample_payloads"] == 0.0
    assert gateway["admission"]["store_url"] == gateway["cache"]["store_url"] == "memory://"
    assert gateway["telemetry"]["otlp_endpoint"] is None and gateway["slo"]["sinks"] == [{"type": "log"}]
    assert gateway["knowledge"]["directory"] == str(tmp_path / "kb")
    provider = document["models"][0]["deployments"][0]["provider"]
    assert provider["port"] == 40123 and provider["model_path"] == str(tmp_path / "models/smol.gguf")
    # The documents themselves are untouched, and the result is a valid config again.
    again = ConfigSet.model_validate({**document, "gateway": {**gateway, "database_url": "memory://"}})
    assert again.routes == config.routes and again.tenants == config.tenants
