"""Two replicas sharing Redis: a breaker one of them opens is open on the other within
a poll interval, so the other skips the failing deployment without failing on it first.
Needs Redis on 127.0.0.1:6379."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import openai

from tests.support.processes import FakeUpstream, Gateway, start_gateway


def config(upstream: FakeUpstream, prefix: str) -> dict[str, Any]:
    def deployment(name: str, mode: str) -> dict[str, Any]:
        return {
            "name": name,
            "provider": {"type": "openai", "base_url": upstream.url(mode), "model": "x"},
            "breaker": {"failure_threshold": 1, "open_s": 30},
        }

    return {
        "gateway": {
            "admission": {"store_url": "redis://127.0.0.1:6379/0", "key_prefix": prefix},
            "breakers": {"poll_interval_s": 0.1},
        },
        "models": [{"name": "m", "deployments": [deployment("broken", "status-500"), deployment("fine", "")]}],
        "routes": [{"name": "default", "max_output_tokens": 8}],
        "tenants": [{"name": "acme"}],
    }


def ask(gw: Gateway) -> Any:
    c = openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0, timeout=10)
    return c.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": "hi"}])


def test_an_opened_breaker_reaches_the_other_replica(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    first = start_gateway(tmp_path / "a", config(fake_upstream, prefix))
    second = start_gateway(tmp_path / "b", config(fake_upstream, prefix))
    try:
        raw = ask(first)  # finds "broken" failing: falls back, and its breaker opens
        assert raw.headers["x-envelope-degradations"] == "fallback_from:broken"
        time.sleep(0.6)  # six poll intervals
        raw = ask(second)  # its first request: without sharing it would try "broken" and fail over
        assert raw.headers["x-envelope-degradations"] == "breaker_open:broken"
        assert raw.headers["x-envelope-deployment"] == "fine"
    finally:
        first.stop()
        second.stop()
