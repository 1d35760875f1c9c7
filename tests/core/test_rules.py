"""The policy rule engine: pure decisions over facts."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from envelope.config.documents import PolicyDoc
from envelope.core.rules import Facts, Policy, Routing, base_tier, clamp, preference, remedies, routing_from

SEED: dict[str, Any] = {
    "name": "seed",
    "rules": [
        {"name": "high-risk", "when": {"risk": {"gte": 0.7}}, "then": {"tier": "L", "min_tier": "L"}},
        {
            "name": "tight-latency",
            "when": {"latency_budget_ms": {"lt": 800}},
            "then": {"tier": "S", "retrieval": "skip", "cache": "prefer"},
        },
        {
            "name": "simple",
            "when": {"intent": ["greeting", "faq"], "complexity": ["low"], "risk": {"lt": 0.3}},
            "then": {"tier": "S"},
        },
        {
            "name": "defaults",
            "then": {
                "over_budget": ["shrink_context", "lower_tier"],
                "capacity": ["wait", "next_tier"],
                "fallback_tiers": True,
            },
        },
    ],
}


def facts(**changes: Any) -> Facts:
    base: dict[str, Any] = {
        "mode": "balanced",
        "latency_budget_ms": 5000.0,
        "cost_budget_usd": None,
        "input_chars": 100,
        "stream": False,
        "tenant": "acme",
        "feature": None,
    }
    return Facts(**(base | changes))


def seed() -> Policy:
    return Policy(PolicyDoc.model_validate(SEED))


def test_no_rule_on_the_facts_keeps_the_base_tier_and_the_catch_all_defaults() -> None:
    decision = seed().decide(facts(), "M")
    assert decision.tier == "M" and decision.rules == ("defaults",)
    assert decision.over_budget == ("shrink_context", "lower_tier")
    assert decision.capacity == ("wait", "next_tier") and decision.fallback_tiers is True


def test_tight_latency_prefers_tier_s_and_skips_retrieval() -> None:
    decision = seed().decide(facts(latency_budget_ms=500.0), "M")
    assert (decision.tier, decision.retrieval, decision.cache) == ("S", "skip", "prefer")
    assert decision.rules == ("tight-latency", "defaults")


def test_the_first_matching_rule_wins_and_min_tier_is_a_floor() -> None:
    # both high-risk and tight-latency match: high-risk is first, so L, and L is a floor
    decision = seed().decide(facts(latency_budget_ms=500.0, risk=0.9), "M")
    assert decision.tier == "L" and decision.min_tier == "L"
    assert decision.rules == ("high-risk", "tight-latency", "defaults")
    assert preference("L", decision) == ["L"]  # no downgrade below the floor


def test_classifier_conditions_do_not_hold_when_nothing_was_classified() -> None:
    assert seed().decide(facts(), "M").tier == "M"
    simple = seed().decide(facts(intent="greeting", complexity="low", risk=0.1), "M")
    assert simple.tier == "S" and simple.rules[0] == "simple"
    not_simple = seed().decide(facts(intent="greeting", complexity="high", risk=0.1), "M")
    assert not_simple.tier == "M"


def test_stop_ends_the_reading() -> None:
    doc = PolicyDoc.model_validate(
        {
            "name": "p",
            "rules": [
                {"name": "streams", "when": {"stream": True}, "then": {"tier": "S"}, "stop": True},
                {"name": "all", "then": {"fallback_tiers": True}},
            ],
        }
    )
    assert Policy(doc).decide(facts(stream=True), "M") == Routing(tier="S", rules=("streams",))
    assert Policy(doc).decide(facts(), "M").fallback_tiers is True


def test_number_tests_and_lists() -> None:
    doc = PolicyDoc.model_validate(
        {
            "name": "p",
            "rules": [
                {"name": "band", "when": {"input_chars": {"gt": 10, "lte": 20}}, "then": {"tier": "L"}},
                {"name": "cheap", "when": {"cost_budget_usd": {"lt": 0.01}}, "then": {"tier": "S"}},
                {"name": "tenants", "when": {"tenant": ["vip"], "mode": ["precise"]}, "then": {"tier": "L"}},
                {"name": "flags", "when": {"risk_flags": ["pii", "legal"]}, "then": {"min_tier": "M"}},
            ],
        }
    )
    policy = Policy(doc)
    assert policy.decide(facts(input_chars=20), "M").tier == "L"
    assert policy.decide(facts(input_chars=21), "M").tier == "M"
    assert policy.decide(facts(input_chars=10), "M").tier == "M"
    assert policy.decide(facts(cost_budget_usd=0.001), "M").tier == "S"
    assert policy.decide(facts(), "M").rules == ()  # no ceiling: the cost test does not hold
    assert policy.decide(facts(tenant="vip", mode="precise"), "M").tier == "L"
    assert policy.decide(facts(tenant="vip"), "M").tier == "M"
    flagged = policy.decide(facts(risk_flags=frozenset({"pii"})), "S")
    assert flagged.tier == "M" and flagged.rules == ("flags",)  # the floor lifts the base tier


def test_mode_moves_the_base_tier() -> None:
    assert [base_tier("M", m) for m in ("fast", "balanced", "precise")] == ["S", "M", "L"]
    assert base_tier("S", "fast") == "S" and base_tier("L", "precise") == "L"


def test_clamp_prefers_the_floor_when_bounds_conflict() -> None:
    assert clamp("S", "M", None) == "M"
    assert clamp("L", None, "M") == "M"
    assert clamp("S", "L", "M") == "L"


def test_preference_is_target_then_lower_then_higher() -> None:
    free = routing_from({}, "M")
    assert preference("M", free) == ["M", "S", "L"]
    assert preference("L", free) == ["L", "M", "S"]
    assert preference("S", free) == ["S", "M", "L"]
    capped = routing_from({"max_tier": "M"}, "M")
    assert preference("M", capped) == ["M", "S"]


def test_remedies_add_steps_in_order_and_never_repeat_a_pair() -> None:
    tried = [(m, sorted(r)) for m, r in remedies(["m1"], ["s1"], ("shrink_context", "lower_tier", "cap_output"))]
    assert tried == [
        ("m1", []),
        ("m1", ["shrink_context"]),
        ("s1", ["shrink_context"]),
        ("m1", ["cap_output", "shrink_context"]),
        ("s1", ["cap_output", "shrink_context"]),
    ]
    assert [m for m, _ in remedies(["m1"], ["s1"], ())] == ["m1"]


def test_bad_policies_are_refused() -> None:
    with pytest.raises(ValidationError, match="lt, lte, gt or gte"):
        PolicyDoc.model_validate({"name": "p", "rules": [{"name": "r", "when": {"risk": {}}, "then": {}}]})
    with pytest.raises(ValidationError, match="intent"):
        PolicyDoc.model_validate({"name": "p", "rules": [{"name": "r", "when": {"intent": ["poetry"]}, "then": {}}]})
    with pytest.raises(ValidationError, match="over_budget"):
        PolicyDoc.model_validate({"name": "p", "rules": [{"name": "r", "then": {"over_budget": ["pray"]}}]})


def test_a_flag_condition_holds_only_when_every_flag_named_is_on() -> None:
    doc = PolicyDoc.model_validate(
        {
            "name": "flagged",
            "rules": [
                {"name": "new-router", "when": {"flags": ["new_router", "beta"]}, "then": {"tier": "L"}},
                {"name": "rest", "then": {"tier": "S"}},
            ],
        }
    )
    policy = Policy(doc)
    assert "flags" in policy.reads
    assert policy.decide(facts(flags=frozenset({"new_router", "beta", "x"})), "M").tier == "L"
    assert policy.decide(facts(flags=frozenset({"new_router"})), "M").tier == "S"
    assert policy.decide(facts(), "M").tier == "S"


def test_a_policy_may_only_name_declared_flags() -> None:
    from envelope.config.documents import ConfigSet

    base = {
        "models": [{"name": "m", "deployments": [{"name": "d", "provider": {"type": "local"}}]}],
        "routes": [{"name": "default", "policy": "p"}],
        "tenants": [{"name": "t"}],
        "policies": [{"name": "p", "rules": [{"name": "r", "when": {"flags": ["beta"]}, "then": {"tier": "S"}}]}],
    }
    with pytest.raises(ValidationError, match="unknown flag 'beta'"):
        ConfigSet.model_validate(base)
    ConfigSet.model_validate(base | {"flags": [{"name": "beta"}]})
