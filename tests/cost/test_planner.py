"""Sample prompts routed offline with the gateway's own stages (no upstream, no classifier load)."""

from __future__ import annotations

from typing import Any

import pytest

from envelope.config.documents import ConfigSet
from envelope.core.classification import Classification
from envelope.core.pricing import cost_usd
from envelope.cost.planner import Traffic, classifies, plan_all
from envelope.cost.samples import SamplePrompt, parse_samples


def model(name: str, tier: str, price_in: float, price_out: float) -> dict[str, Any]:
    return {
        "name": name,
        "tier": tier,
        "tokenizer": {"type": "estimate", "chars_per_token": 4},
        "prices": {"input_per_1m": price_in, "output_per_1m": price_out},
        "deployments": [
            {"name": f"{name}-d", "provider": {"type": "openai", "base_url": "http://x/v1", "model": name}}
        ],
    }


CONFIG = ConfigSet.model_validate(
    {
        "models": [model("small", "S", 0.1, 0.4), model("medium", "M", 1.0, 4.0), model("large", "L", 10.0, 40.0)],
        "policies": [
            {
                "name": "p",
                "rules": [
                    {"name": "high-risk", "when": {"risk": {"gte": 0.7}}, "then": {"tier": "L"}},
                    {"name": "chatty", "when": {"intent": ["greeting"]}, "then": {"tier": "S"}},
                    {"name": "vip", "when": {"tenant": ["vip"]}, "then": {"tier": "L"}},
                ],
            }
        ],
        "routes": [
            {"name": "r", "policy": "p", "quality_tier": "M", "max_output_tokens": 200, "max_input_tokens": 50},
            {"name": "plain", "quality_tier": "S", "max_output_tokens": 100, "cost_ceiling_usd": 0.00001},
        ],
        "tenants": [{"name": "acme", "default_route": "r"}, {"name": "vip", "default_route": "r", "mode": "fast"}],
    }
)


def verdict(intent: str = "faq", risk: float = 0.1) -> Classification:
    return Classification(intent=intent, complexity="low", risk=risk, flags=frozenset(), ms=0.0)


def route(name: str) -> Any:
    return next(r for r in CONFIG.routes if r.name == name)


async def test_policy_tiers_follow_the_verdicts() -> None:
    samples = parse_samples('{"prompt": "hello"}\n{"prompt": "I will sue"}\n{"prompt": "what is x?"}', jsonl=True)
    verdicts = [verdict("greeting"), verdict(risk=0.9), verdict()]
    plans = await plan_all(CONFIG, Traffic(route=route("r")), samples, verdicts)
    assert [(p.policy_tier, p.model) for p in plans] == [("S", "small"), ("L", "large"), ("M", "medium")]
    assert plans[1].rules == ("high-risk",)
    assert plans[1].risk == 0.9
    # the estimate tokenizer: 4 per message + ceil(chars / 4) + 3 for the reply
    assert plans[2].input_tokens == 4 + 3 + 3 and not plans[2].tokens_exact
    assert plans[2].max_tokens == 200 and plans[2].output_source == "max_tokens"
    assert plans[2].cost_usd == pytest.approx((10 * 1.0 + 200 * 4.0) / 1e6)


async def test_tenant_rules_and_modes_apply() -> None:
    samples = [SamplePrompt([{"role": "user", "content": "what is x?"}])]
    vip = next(t for t in CONFIG.tenants if t.name == "vip")
    (plan,) = await plan_all(CONFIG, Traffic(route=route("r"), tenant=vip), samples, [verdict()])
    assert (plan.policy_tier, plan.rules) == ("L", ("vip",))


async def test_expected_output_and_max_tokens() -> None:
    samples = parse_samples('{"prompt": "a", "output_tokens": 20}\n{"prompt": "b"}\n{"prompt": "c"}', jsonl=True)
    traffic = Traffic(route=route("r"), max_tokens=150, output_tokens=40, ledger_output={"medium": 7.0})
    plans = await plan_all(CONFIG, traffic, samples, [verdict()] * 3)
    assert [(p.max_tokens, p.output_tokens, p.output_source) for p in plans] == [
        (150, 20, "given"),
        (150, 40, "given"),
        (150, 40, "given"),
    ]
    from_ledger = await plan_all(CONFIG, Traffic(route=route("r"), ledger_output={None: 12.0}), samples[1:2], [None])
    assert (from_ledger[0].output_tokens, from_ledger[0].output_source) == (12, "ledger")


async def test_refusals_are_plans_with_their_error_code() -> None:
    long = SamplePrompt([{"role": "user", "content": "word " * 200}])
    (too_long,) = await plan_all(CONFIG, Traffic(route=route("r")), [long], [verdict()])
    assert (too_long.refused, too_long.cost_usd, too_long.model) == ("input_tokens_exceeded", 0.0, None)
    pinned = SamplePrompt([{"role": "user", "content": "hi"}], model="ghost")
    (unknown,) = await plan_all(CONFIG, Traffic(route=route("r")), [pinned], [verdict()])
    assert unknown.refused == "model_not_found"
    document = CONFIG.model_dump(mode="json", exclude_unset=True)
    document["models"].append({**model("vectors", "S", 0.02, 0.0), "embedding": True})
    vectors = SamplePrompt([{"role": "user", "content": "hi"}], model="vectors")
    (embedding,) = await plan_all(ConfigSet.model_validate(document), Traffic(route=route("r")), [vectors], [verdict()])
    assert (embedding.refused, embedding.model) == ("InvalidRequest", None)  # the gateway's 400: not a chat model


async def test_cost_ceiling_caps_the_output_as_the_gateway_does() -> None:
    samples = [SamplePrompt([{"role": "user", "content": "hi"}])]
    (plan,) = await plan_all(CONFIG, Traffic(route=route("plain")), samples, [None])
    assert plan.model == "small" and plan.policy_tier == "S" and plan.intent is None
    assert "max_tokens_capped_by_cost" in plan.degradations
    assert plan.worst_case_usd <= 0.00001
    assert plan.cost_usd == pytest.approx(
        cost_usd(CONFIG.models[0].prices, input_tokens=plan.input_tokens, output_tokens=plan.max_tokens)
    )


def test_routes_classify_when_their_policy_reads_the_classifier() -> None:
    assert classifies(CONFIG, route("r"))
    assert not classifies(CONFIG, route("plain"))
