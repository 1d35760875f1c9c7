"""Policy routing through a real gateway, with the fake upstream behind tiers S, M, L:
`model: auto`, performance modes, the seed rules, over-budget remedies, capacity
reroute and cross-tier fallback — every decision in the headers and the ledger."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.support.processes import FakeUpstream, Gateway, start_gateway


def model(name: str, tier: str, url: str, price: float) -> dict[str, Any]:
    return {
        "name": name,
        "tier": tier,
        "tokenizer": {"type": "tiktoken"},
        "prices": {"input_per_1m": price, "output_per_1m": 2 * price},
        "deployments": [{"name": f"{name}-0", "provider": {"type": "openai", "base_url": url, "model": "fake"}}],
    }


DEFAULTS = {
    "name": "defaults",
    "then": {"over_budget": ["shrink_context", "lower_tier"], "capacity": ["next_tier"], "fallback_tiers": True},
}
SEED = {
    "name": "seed",
    "rules": [
        {
            "name": "tight-latency",
            "when": {"latency_budget_ms": {"lt": 800}},
            "then": {"tier": "S", "retrieval": "skip", "cache": "prefer"},
        },
        {"name": "precise-floor", "when": {"mode": ["precise"]}, "then": {"min_tier": "L"}},
        DEFAULTS,
    ],
}


@pytest.fixture(scope="module")
def gateway(fake_upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    up = fake_upstream
    tiers = ["small", "medium", "large"]
    doc = {
        "gateway": {"admission": {"capacity": {"L": {"concurrency": 1}}}},
        "models": [
            model("small", "S", up.url(), 1.0),
            model("medium", "M", up.url(), 10.0),
            model("large", "L", up.url(), 100.0),
            model("large-slow", "L", up.url("delay-1500"), 100.0),
            model("medium-broken", "M", up.url("status-500"), 10.0),
        ],
        "policies": [
            SEED,
            {"name": "lower-only", "rules": [{"name": "lower", "then": {"over_budget": ["lower_tier"]}}]},
        ],
        "routes": [
            {"name": "default", "models": tiers, "quality_tier": "M", "policy": "seed", "max_output_tokens": 100},
            {"name": "plain", "models": tiers, "quality_tier": "M", "max_output_tokens": 100},
            # medium's worst case (≈ 0.0022) is over the ceiling, small's (≈ 0.0002) is not
            {
                "name": "budget",
                "models": tiers,
                "policy": "lower-only",
                "max_output_tokens": 100,
                "cost_ceiling_usd": 0.001,
            },
            # medium with 100 output tokens (0.002) leaves 0.001 for input: 100 tokens
            {
                "name": "shrink",
                "models": ["medium"],
                "policy": "seed",
                "max_output_tokens": 100,
                "cost_ceiling_usd": 0.003,
            },
            {"name": "fallback", "models": ["medium-broken", "small"], "policy": "seed", "max_output_tokens": 50},
            {"name": "capacity", "models": ["large-slow", "medium"], "quality_tier": "L", "policy": "seed"},
        ],
        "tenants": [{"name": "acme"}, {"name": "hurry", "mode": "fast"}],
    }
    gw = start_gateway(tmp_path_factory.mktemp("routing"), doc)
    yield gw
    gw.stop()


def client(gw: Gateway, key: str | None = None, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=gw.base_url, api_key=key or gw.key, max_retries=0, default_headers=headers, timeout=20
    )


MESSAGES: Any = [{"role": "user", "content": "hello there"}]


def ask(gw: Gateway, route: str, model: str = "auto", key: str | None = None, **headers: str) -> Any:
    c = client(gw, key, **{"x-envelope-route": route, **headers})
    return c.chat.completions.with_raw_response.create(model=model, messages=MESSAGES)


def test_auto_serves_the_routes_quality_tier_and_names_the_rules(gateway: Gateway) -> None:
    raw = ask(gateway, "default")
    assert raw.parse().choices[0].message.content
    assert (raw.headers["x-envelope-model"], raw.headers["x-envelope-tier"]) == ("medium", "M")
    assert raw.headers["x-envelope-rules"] == "defaults"
    row = gateway.ledger_row(raw.headers["x-envelope-request-id"])
    assert (row["model"], row["tier"], row["rules"]) == ("medium", "M", "defaults")


@pytest.mark.parametrize(("mode", "tier"), [("fast", "S"), ("balanced", "M"), ("precise", "L")])
def test_performance_mode_header_moves_the_tier(gateway: Gateway, mode: str, tier: str) -> None:
    raw = ask(gateway, "plain", **{"x-envelope-mode": mode})
    assert raw.headers["x-envelope-tier"] == tier and raw.headers["x-envelope-mode"] == mode
    assert "x-envelope-rules" not in raw.headers  # a route without a policy decides by mode alone


def test_a_tenants_mode_applies_unless_the_request_says_otherwise(gateway: Gateway) -> None:
    body = json.dumps({"tenant": "hurry"}).encode()
    request = urllib.request.Request(
        f"{gateway.base_url.removesuffix('/v1')}/admin/keys",
        data=body,
        headers={"authorization": f"Bearer {gateway.admin_key}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:
        key = json.loads(answer.read())["key"]
    assert ask(gateway, "plain", key=key).headers["x-envelope-tier"] == "S"
    assert ask(gateway, "plain", key=key, **{"x-envelope-mode": "precise"}).headers["x-envelope-tier"] == "L"


def test_a_tight_latency_budget_prefers_tier_s_without_retrieval(gateway: Gateway) -> None:
    raw = ask(gateway, "default", **{"x-envelope-latency-budget-ms": "500"})
    assert raw.headers["x-envelope-tier"] == "S"
    assert raw.headers["x-envelope-rules"] == "tight-latency,defaults"
    assert raw.headers["x-envelope-degradations"] == "none"  # a rule's choice, not a degradation
    assert (raw.headers["x-envelope-retrieval"], raw.headers["x-envelope-cache-mode"]) == ("skip", "prefer")


def test_models_list_offers_auto(gateway: Gateway) -> None:
    ids = [m.id for m in client(gateway).models.list()]
    assert ids[0] == "auto" and {"small", "medium", "large"} <= set(ids)


def test_a_named_model_is_served_as_named(gateway: Gateway) -> None:
    raw = ask(gateway, "default", model="large", **{"x-envelope-latency-budget-ms": "500"})
    assert raw.headers["x-envelope-model"] == "large"


def test_over_budget_lowers_the_tier_and_says_so(gateway: Gateway) -> None:
    raw = ask(gateway, "budget")
    assert raw.headers["x-envelope-model"] == "small"
    assert raw.headers["x-envelope-degradations"] == "tier_lowered:M->S"
    assert float(raw.headers["x-envelope-worst-case-usd"]) <= 0.001
    assert gateway.ledger_row(raw.headers["x-envelope-request-id"])["degradations"] == "tier_lowered:M->S"


def test_over_budget_shrinks_the_context_first(gateway: Gateway) -> None:
    history: Any = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"message {i}: " + "lorem ipsum dolor " * 8}
        for i in range(9)
    ]
    c = client(gateway, **{"x-envelope-route": "shrink"})
    raw = c.chat.completions.with_raw_response.create(model="auto", messages=history)
    assert raw.headers["x-envelope-model"] == "medium"
    dropped = raw.headers["x-envelope-degradations"]
    assert dropped.startswith("context_shrunk:")
    assert int(raw.headers["x-envelope-input-tokens"]) <= 100
    assert float(raw.headers["x-envelope-worst-case-usd"]) <= 0.003


def test_a_route_with_no_remedy_refuses_over_budget(gateway: Gateway) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client(gateway, **{"x-envelope-route": "shrink", "x-envelope-cost-budget": "0.0001"}).chat.completions.create(
            model="auto", messages=MESSAGES
        )
    body = err.value.body
    assert isinstance(body, dict) and body["code"] in ("cost_ceiling_exceeded", "input_tokens_exceeded")


def test_every_deployment_failing_falls_back_to_another_tier(gateway: Gateway) -> None:
    raw = ask(gateway, "fallback")
    assert raw.parse().choices[0].message.content
    assert raw.headers["x-envelope-model"] == "small"
    degradations = raw.headers["x-envelope-degradations"].split(",")
    assert degradations == ["fallback_from:medium-broken-0", "model_fallback:medium-broken->small"]
    row = gateway.ledger_row(raw.headers["x-envelope-request-id"])
    assert (row["status"], row["model"], row["tier"]) == (200, "small", "S")


def test_a_full_tier_reroutes_to_the_next_tier(gateway: Gateway) -> None:
    first: dict[str, Any] = {}

    def hold_the_only_l_slot() -> None:
        first["raw"] = ask(gateway, "capacity")

    holder = threading.Thread(target=hold_the_only_l_slot)
    holder.start()
    time.sleep(0.5)  # the first request is in flight on large-slow (1.5 s)
    raw = ask(gateway, "capacity")
    holder.join()
    assert first["raw"].headers["x-envelope-model"] == "large-slow"
    assert raw.headers["x-envelope-model"] == "medium"
    assert raw.headers["x-envelope-degradations"] == "rerouted:L->M"
    assert gateway.ledger_row(raw.headers["x-envelope-request-id"])["degradations"] == "rerouted:L->M"
