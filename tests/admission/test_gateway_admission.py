"""Admission through a real gateway: 429 with Retry-After and the limit named, budgets
reserved and settled, the capacity gate's bounded queue, and the Redis failure policy."""

from __future__ import annotations

import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.support.processes import FakeUpstream, Gateway, start_gateway

MESSAGES: Any = [{"role": "user", "content": "hello there"}]


def doc(upstream: FakeUpstream, *, tenant: dict[str, Any], admission: dict[str, Any] | None = None,
        mode: str = "", route: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "gateway": {"admission": admission or {}},
        "models": [
            {
                "name": "m",
                "tier": "M",
                "tokenizer": {"type": "tiktoken"},
                "prices": {"input_per_1m": 1000.0, "output_per_1m": 2000.0},  # expensive, to test budgets
                "deployments": [
                    {"name": "d", "provider": {"type": "openai", "base_url": upstream.url(mode), "model": "x"}}
                ],
            }
        ],
        "routes": [{"name": "default", "max_output_tokens": 10, **(route or {})}],
        "tenants": [{"name": "acme", **tenant}],
    }


def client(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0, timeout=20)


def ask(gw: Gateway) -> Any:
    return client(gw).chat.completions.with_raw_response.create(model="m", messages=MESSAGES, max_tokens=5)


def test_rate_limit_is_429_with_retry_after_and_the_limit_named(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    gw = start_gateway(tmp_path, doc(fake_upstream, tenant={"limits": {"rpm": 3}}))
    try:
        for _ in range(3):
            ask(gw)
        with pytest.raises(openai.RateLimitError) as err:
            ask(gw)
        assert err.value.response.headers["retry-after"] == "20"  # one request at 3 a minute
        body: Any = err.value.body
        assert body["code"] == "rate_limit_exceeded" and body["param"] == "tenant rpm"
        assert "tenant rpm" in body["message"]
        rows = gw.ledger(wait_for=4)
        assert sorted(r["status"] for r in rows) == [200, 200, 200, 429]
        metrics = urllib.request.urlopen(f"{gw.root}/metrics").read().decode()
        assert 'envelope_admission_rejections_total{limit="tenant rpm",route="default",tenant="acme"} 1.0' in metrics
    finally:
        gw.stop()


def test_key_limits_apply_to_each_key(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    gw = start_gateway(tmp_path, doc(fake_upstream, tenant={"key_limits": {"rpm": 1}}))
    try:
        ask(gw)
        with pytest.raises(openai.RateLimitError, match="key rpm"):
            ask(gw)
        other = openai.OpenAI(base_url=gw.base_url, api_key=gw.admin_key, max_retries=0)  # another key, same tenant
        other.chat.completions.create(model="m", messages=MESSAGES, max_tokens=5)
    finally:
        gw.stop()


def test_budget_holds_under_concurrency(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    # each request reserves its worst case: ~(input + 5 output tokens) at $1000/$2000 per 1M ≈ $0.02
    gw = start_gateway(tmp_path, doc(fake_upstream, tenant={"budget": {"period": "daily", "hard_usd": 0.2}}))
    try:
        with ThreadPoolExecutor(16) as pool:
            outcomes = list(pool.map(lambda _: _status(gw), range(40)))
        admitted = outcomes.count(200)
        assert outcomes.count(429) == 40 - admitted and 0 < admitted < 40
        rows = gw.ledger(wait_for=40)
        spent = sum(r["cost_usd"] for r in rows)
        worst = max(r["worst_case_usd"] for r in rows if r["status"] == 200)
        assert spent <= 0.2 + worst  # never past the budget by more than one request's reservation
        assert all(r["error_code"] == "budget_exceeded" for r in rows if r["status"] == 429)
    finally:
        gw.stop()


def _status(gw: Gateway) -> int:
    try:
        ask(gw)
        return 200
    except openai.APIStatusError as exc:
        return exc.status_code


def test_capacity_gate_queues_within_budget_then_sheds(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    admission = {"capacity": {"M": {"concurrency": 1, "queue": 1}}, "priority_shares": {"normal": 1.0}}
    gw = start_gateway(tmp_path, doc(fake_upstream, tenant={}, admission=admission, mode="delay-400"))
    try:
        with ThreadPoolExecutor(3) as pool:
            outcomes = sorted(pool.map(lambda _: _status(gw), range(3)))
        assert outcomes == [200, 200, 429]  # one served, one queued then served, one shed
        shed = [r for r in gw.ledger(wait_for=3) if r["status"] == 429]
        assert shed and shed[0]["error_code"] == "rate_limit_exceeded"
    finally:
        gw.stop()


def test_lower_priority_fills_a_smaller_share(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    tenant = {"priority": "low", "limits": {"concurrency": 4}}
    gw = start_gateway(tmp_path, doc(fake_upstream, tenant=tenant, mode="delay-300"))
    try:
        with ThreadPoolExecutor(4) as pool:
            outcomes = sorted(pool.map(lambda _: _status(gw), range(4)))
        assert outcomes == [200, 200, 429, 429]  # low priority: half of 4
    finally:
        gw.stop()


DEAD_REDIS = "redis://127.0.0.1:1/0"


def test_redis_down_fail_closed_refuses_with_503(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    admission = {"store_url": DEAD_REDIS, "on_store_failure": "fail_closed", "timeout_s": 0.2}
    gw = start_gateway(tmp_path, doc(fake_upstream, tenant={"limits": {"rpm": 100}}, admission=admission))
    try:
        with pytest.raises(openai.APIStatusError) as err:
            ask(gw)
        assert err.value.status_code == 503
        assert isinstance(err.value.body, dict) and err.value.body["code"] == "admission_unavailable"
    finally:
        gw.stop()
    assert "admission store unavailable" in gw.log.read_text()


def test_redis_down_fail_open_admits_under_local_limits(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    admission = {"store_url": DEAD_REDIS, "on_store_failure": "fail_open", "local_share": 0.5, "timeout_s": 0.2}
    gw = start_gateway(tmp_path, doc(fake_upstream, tenant={"limits": {"rpm": 4}}, admission=admission))
    try:
        first = ask(gw)
        assert "admission_local" in first.headers["x-envelope-degradations"]
        ask(gw)
        with pytest.raises(openai.RateLimitError):  # half of 4 on this replica alone
            ask(gw)
    finally:
        gw.stop()
    log = gw.log.read_text()
    assert log.count("admission store unavailable") == 1  # warned once a minute, not per request
    assert "local per-replica limits" in log


def test_no_limits_configured_means_no_admission_work(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    gw = start_gateway(tmp_path / str(uuid.uuid4()), doc(fake_upstream, tenant={}))
    try:
        assert ask(gw).headers["x-envelope-degradations"] == "none"
    finally:
        gw.stop()


def test_soft_budget_warns_and_caps_output_per_policy(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    budget = {"period": "daily", "soft_usd": 0.000001, "on_soft": "cap_output", "soft_max_output_tokens": 2}
    gw = start_gateway(tmp_path, doc(fake_upstream, tenant={"budget": budget}))
    try:
        raw = ask(gw)
        degradations = raw.headers["x-envelope-degradations"].split(",")
        assert degradations == ["budget_soft_limit", "max_tokens_capped_by_budget"]
        assert raw.headers["x-envelope-max-tokens"] == "2"
        assert raw.parse().usage.completion_tokens == 2  # the upstream was asked for 2
    finally:
        gw.stop()


def test_the_reservation_covers_every_possible_attempt(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    # one attempt's worst case ≈ $0.02 here; with 1 retry and a fallback, 3 attempts ≈ $0.06 must be reserved
    document = doc(fake_upstream, tenant={"budget": {"period": "daily", "hard_usd": 0.05}})
    first = document["models"][0]["deployments"][0]
    first["retries"] = 1
    document["models"][0]["deployments"].append({**first, "name": "d2", "retries": 0})
    gw = start_gateway(tmp_path, document)
    try:
        with pytest.raises(openai.BadRequestError, match="tenant budget"):
            ask(gw)  # 3 × worst case exceeds the whole budget: it can never be admitted
    finally:
        gw.stop()
    single = start_gateway(
        tmp_path / "single", doc(fake_upstream, tenant={"budget": {"period": "daily", "hard_usd": 0.05}})
    )
    try:
        ask(single)  # one attempt's worst case fits
    finally:
        single.stop()
