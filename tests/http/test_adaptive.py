"""Adaptive control end to end: the upstream of tier M slows down, the route is served
from tier S, the upstream recovers, the route comes back — visible in responses, metrics
and the ledger. The upstream is scripted (tests/support/scripted.py, real HTTP) so the
test can slow one model down and speed it up again while the gateway runs."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.support.processes import Gateway, start_gateway
from tests.support.scripted import ScriptedUpstream, scripted_upstream

TARGET_MS = 150


def config(upstream: ScriptedUpstream) -> dict[str, Any]:
    def model(name: str, tier: str) -> dict[str, Any]:
        provider = {"type": "openai", "base_url": upstream.url, "model": name}
        return {"name": name, "tier": tier, "deployments": [{"name": f"{name}-0", "provider": provider}]}

    return {
        "gateway": {"control": {"interval_s": 0.1}},
        "models": [model("medium", "M"), model("small", "S")],
        "routes": [
            {
                "name": "default",
                "quality_tier": "M",
                "latency": {"p95_ms": TARGET_MS},
                "adaptive": {
                    "window_s": 1.5,
                    "min_requests": 4,
                    "breach_for_s": 0.3,
                    "recover_ratio": 0.8,
                    "recover_for_s": 0.5,
                    "probe_share": 0.5,
                    "min_probes": 2,
                    "retry_after_s": 60,
                },
            }
        ],
        "tenants": [{"name": "acme"}],
    }


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with scripted_upstream() as scripted:
        yield scripted


@pytest.fixture(scope="module")
def gateway(upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = start_gateway(tmp_path_factory.mktemp("adaptive"), config(upstream))
    yield gw
    gw.stop()


def ask(client: openai.OpenAI) -> tuple[str, str]:
    raw = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "hello"}]
    )
    return raw.headers["x-envelope-model"], raw.headers["x-envelope-degradations"]


def until(client: openai.OpenAI, wanted: Any, seconds: float) -> list[tuple[str, str]]:
    """Ask until `wanted(model, degradations)` holds; every answer seen."""
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen.append(ask(client))
        if wanted(*seen[-1]):
            return seen
    raise AssertionError(f"not reached in {seconds}s; last answers: {seen[-5:]}")


def test_spike_downgrade_recovery(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    client = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)
    for _ in range(5):
        assert ask(client) == ("medium", "none")

    upstream.delays["medium"] = 0.3  # tier M now answers in 300 ms: over the 150 ms target
    seen = until(client, lambda model, degraded: model == "small", 20)
    assert seen[-1][1] == "slo_downgrade:M->S"
    assert gateway.metric("envelope_control_level", 'route="default"') == 1
    scope = 'direction="down",kind="latency",scope="route:default"'
    assert gateway.metric("envelope_control_transitions_total", scope) == 1

    # while the route is down, some requests still probe tier M (and are slow)
    probes = until(client, lambda model, degraded: model == "medium", 10)
    assert probes[-1][1] == "none"

    upstream.delays.pop("medium")  # tier M recovers; the probes see it, and the route comes back
    recovering = until(
        client, lambda model, degraded: gateway.metric("envelope_control_level", 'route="default"') == 0, 20
    )
    for _ in range(5):
        assert ask(client) == ("medium", "none")
    up = 'direction="up",kind="latency",scope="route:default"'
    assert gateway.metric("envelope_control_transitions_total", up) == 1
    assert gateway.metric("envelope_downgrade_duration_seconds_count", 'route="default"') == 1
    lasted = gateway.metric("envelope_downgrade_duration_seconds_sum", 'route="default"')
    assert 0.5 <= lasted < 60
    assert gateway.metric("envelope_downgraded_seconds_total", 'route="default"') == pytest.approx(lasted, abs=0.5)

    rows = gateway.ledger(wait_for=5 + len(seen) + len(probes) + len(recovering) + 5)
    downgraded = [r for r in rows if r["degradations"] == "slo_downgrade:M->S"]
    assert downgraded and all(r["model"] == "small" and r["tier"] == "S" for r in downgraded)
    first, last = downgraded[0]["ts"], downgraded[-1]["ts"]
    assert [r["model"] for r in rows if r["ts"] > last][-5:] == ["medium"] * 5
    assert all(r["model"] == "medium" for r in rows if r["ts"] < first)

    with sqlite3.connect(gateway.db) as db:
        stored = db.execute(
            "SELECT scope, kind, direction, from_level, to_level, downgraded_s FROM control_transitions ORDER BY ts"
        ).fetchall()
    assert [row[:5] for row in stored] == [
        ("route:default", "latency", "down", 0, 1),
        ("route:default", "latency", "up", 1, 0),
    ]
    assert stored[1][5] == pytest.approx(lasted)
