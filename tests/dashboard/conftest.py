"""One real gateway with traffic through it, shared by the dashboard tests: an hour of
seeded history in its store (`history.py`), then live traffic — cache misses
and exact hits, 429s from a tenant's rpm limit, upstream failures (5xx, which fire an
availability burn alert), and a latency spike that makes adaptive control downgrade the
route to tier S (still down when the tests look). The upstream is scripted
(tests/support/scripted.py, real HTTP) so the test can slow it down and make it fail."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import openai
import pytest

from envelope.bench.processes import issue_tenant_keys
from tests.dashboard import history
from tests.support.processes import Gateway, start_gateway
from tests.support.scripted import ScriptedUpstream, scripted_upstream

TARGET_MS = 150


def config(upstream: ScriptedUpstream) -> dict[str, Any]:
    def model(name: str, tier: str, prices: tuple[float, float]) -> dict[str, Any]:
        provider = {"type": "openai", "base_url": upstream.url, "model": name}
        return {
            "name": name,
            "tier": tier,
            "prices": {"input_per_1m": prices[0], "output_per_1m": prices[1]},
            "deployments": [{"name": f"{name}-0", "provider": provider}],
        }

    return {
        "gateway": {
            "control": {"interval_s": 0.1},
            "admission": {"capacity": {"M": {"concurrency": 4}, "S": {"concurrency": 8}}},
            "slo": {
                "bucket_s": 0.5,
                "evaluation_interval_s": 0.2,
                "rolling_window_s": 30,
                "quantile_horizon_s": 60,
                "keep_firing_s": 900,  # alerts stay up while the browser looks
                "burn": {
                    "windows": [{"long_s": 20, "short_s": 3, "factor": 2, "severity": "page"}],
                    "min_events": 4,
                    "for_s": 0,
                },
            },
        },
        "models": [model("medium", "M", history.PRICES["medium"]), model("small", "S", history.PRICES["small"])],
        "routes": [
            {
                "name": "default",
                "quality_tier": "M",
                "max_output_tokens": 64,
                "latency": {"p95_ms": TARGET_MS},
                "cache": {"exact": True},
                "limits": {"rpm": 1000},
                "slo": {"availability": 0.97, "latency": 0.9},
                "adaptive": {
                    "window_s": 1.5,
                    "min_requests": 4,
                    "breach_for_s": 0.3,
                    "recover_ratio": 0.8,
                    "recover_for_s": 0.5,
                    "probe_share": 0.2,
                    "min_probes": 2,
                    "retry_after_s": 600,
                },
                "guards": {"pii": {"input": "redact", "output": "redact"}},
            },
            {"name": "search", "latency": {"p95_ms": 500}, "max_output_tokens": 64},
        ],
        "tenants": [
            {
                "name": "acme",
                "limits": {"rpm": 600, "tpm": 20000},
                "budget": {"period": "daily", "hard_usd": 2.0, "soft_usd": 1.2},
            },
            {"name": "beta", "limits": {"rpm": 3}},
        ],
    }


@dataclass
class Traffic:
    """What was sent, as the client saw it."""

    answered: int = 0
    exact_hits: int = 0
    refused: int = 0  # 429
    failed: int = 0  # 5xx
    downgraded_at: float | None = None


@dataclass
class Busy:
    gateway: Gateway
    upstream: ScriptedUpstream
    traffic: Traffic
    beta_key: str

    def client(self, key: str | None = None) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.gateway.base_url, api_key=key or self.gateway.key, max_retries=0, timeout=20)


def _ask(client: openai.OpenAI, text: str, traffic: Traffic) -> str | None:
    """One chat request; the model that answered, or None if it failed."""
    try:
        raw = client.chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": text}]
        )
    except openai.APIStatusError as error:
        if error.status_code == 429:
            traffic.refused += 1
        elif error.status_code >= 500:
            traffic.failed += 1
        else:
            raise
        return None
    traffic.answered += 1
    traffic.exact_hits += raw.headers["x-envelope-cache"] == "exact"
    return raw.headers.get("x-envelope-model")


def drive(busy: Busy) -> None:
    traffic, acme = busy.traffic, busy.client()
    for i in range(16):  # misses, then the same questions again: exact hits
        _ask(acme, f"question {i % 10}", traffic)
    search = openai.OpenAI(
        base_url=busy.gateway.base_url,
        api_key=busy.gateway.key,
        max_retries=0,
        default_headers={"x-envelope-route": "search"},
    )
    for i in range(6):  # a route without a cache
        _ask(search, f"search for {i}", traffic)
    for i in range(6):  # beta's rpm is 3
        _ask(busy.client(busy.beta_key), f"beta asks {i}", traffic)
    busy.upstream.delays["medium"] = 0.3  # tier M is now slower than the 150 ms target
    for i in range(60):
        if _ask(acme, f"slow question {i}", traffic) == "small":
            traffic.downgraded_at = time.time()
            break
    assert traffic.downgraded_at is not None, f"adaptive control never downgraded the route: {traffic}"
    for i in range(4):  # served from tier S while the route is down
        _ask(acme, f"after the downgrade {i}", traffic)
    busy.upstream.failures["please fail"] = 1000  # last: the failures open the breaker of small-0
    for i in range(6):
        _ask(acme, f"please fail {i}", traffic)


@pytest.fixture(scope="package")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Busy]:
    directory = tmp_path_factory.mktemp("dashboard")
    seeded = history.seed(directory / "ledger.db", time.time())
    with scripted_upstream() as upstream:
        gateway = start_gateway(directory, config(upstream))
        try:
            beta = issue_tenant_keys(gateway, ["beta"])["beta"]
            found = Busy(gateway, upstream, Traffic(), beta)
            drive(found)
            sent = found.traffic.answered + found.traffic.refused + found.traffic.failed
            assert len(gateway.ledger(wait_for=seeded + sent)) == seeded + sent
            yield found
        finally:
            gateway.stop()
