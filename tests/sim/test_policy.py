"""Plans from the Envelope config: the route's envelope, its policy's rules, tier order,
capacity steps, cost remedies and cache hits."""

from __future__ import annotations

import random
from typing import Any

import pytest

from envelope.config import loader
from envelope.config.documents import ConfigSet, Prices
from envelope.sim.fleet import Fleet, load_fleet, sample_fleet_path
from envelope.sim.policy import PlanError, Router, tier_prices
from envelope.sim.trace import Arrival

SAMPLE = loader.load(loader.sample_config_path())
FLEET = load_fleet(sample_fleet_path())


def router(config: ConfigSet = SAMPLE, fleet: Fleet = FLEET, **options: Any) -> Router:
    prices, _ = tier_prices(config, fleet)
    return Router(config, fleet, prices, **options)


def plan_of(row: Arrival, **options: Any) -> Any:
    return router(**options).plan(row, random.Random(0))


def row(**fields: Any) -> Arrival:
    values: dict[str, Any] = {"ts": 0.0, "input_tokens": 300, "output_tokens": 100, **fields}
    return Arrival(**values)


def test_the_sample_policy_serves_the_default_route_from_s_with_wait_then_next_tier() -> None:
    plan = plan_of(row())
    assert plan.tiers == ("S", "M", "L")
    assert plan.steps == ("wait", "next_tier") and plan.wait_ms == 200
    assert plan.deadline_ms == 120_000 and not plan.cached and plan.rejected is None


def test_modes_and_rules_move_the_tier() -> None:
    assert plan_of(row(mode="precise")).tiers[0] == "M"  # one up from the route's S
    assert plan_of(row(mode="precise", latency_budget_ms=500)).tiers[0] == "S"  # tight-latency rule
    assert plan_of(row(route="docs", risk=0.9)).tiers[0] == "L"  # high-risk rule


def test_over_the_cost_ceiling_a_lower_tier_is_taken() -> None:
    # L's worst case (300 in, 256 out at $3/$12 per 1M) is over the default route's $0.001
    assert plan_of(row(risk=0.9)).tiers[0] == "M"


def test_cost_remedies_are_tried_in_the_policys_order() -> None:
    doc = SAMPLE.model_dump(by_alias=True, exclude_unset=True)
    rule = {"name": "all", "then": {"tier": "L", "over_budget": ["cap_output", "lower_tier"]}}
    doc["policies"] = [{"name": "seed", "rules": [rule]}]
    capped = plan_of(row(input_tokens=100, output_tokens=100), config=ConfigSet.model_validate(doc))
    assert capped.tiers[0] == "L" and capped.output_tokens < 100  # the cap comes first: L, capped
    rule["then"]["over_budget"] = ["lower_tier", "cap_output"]
    lowered = plan_of(row(input_tokens=100, output_tokens=100), config=ConfigSet.model_validate(doc))
    assert lowered.tiers[0] == "M" and lowered.output_tokens == 100


def test_token_caps_of_the_route() -> None:
    plan = plan_of(row(input_tokens=5000, output_tokens=1000))
    assert plan.input_tokens == 1536 and plan.output_tokens == 256  # truncate, max_output_tokens
    strict = SAMPLE.model_copy(update={"routes": [SAMPLE.routes[0].model_copy(update={"on_input_overflow": "reject"})]})
    assert plan_of(row(input_tokens=5000), config=strict).rejected == "input_too_long"


def test_cache_hits_from_the_rate_or_the_trace() -> None:
    r = router(cache_hit_rate=0.3)
    rng = random.Random(5)
    hits = sum(r.plan(row(), rng).cached for _ in range(4000))
    assert abs(hits / 4000 - 0.3) < 0.03
    assert plan_of(row(cache="exact")).cached
    assert not plan_of(row(cache="exact"), cache_hit_rate=0.0).cached


def test_recorded_tiers_are_kept_only_when_asked() -> None:
    assert plan_of(row(route="docs", tier="L")).tiers[0] == "S"
    assert plan_of(row(route="docs", tier="L"), recorded_tiers=True).tiers[0] == "L"


def test_unknown_routes_are_named() -> None:
    with pytest.raises(PlanError, match="routes the config does not have: nowhere"):
        router().plans([row(route="nowhere")], random.Random(0))


def test_prices_come_from_the_fleet_or_the_config() -> None:
    bare = Fleet.model_validate(
        {
            "profiles": FLEET.model_dump()["profiles"],
            "tiers": {
                "S": {"profile": "small-gpu"},
                "M": {"profile": "small-gpu"},
                "L": {"profile": "small-gpu", "model": "smollm2"},
            },
        }
    )
    prices, notes = tier_prices(SAMPLE, bare)
    assert prices["S"] == SAMPLE.models[0].prices == prices["L"]  # the config's S model; named
    assert prices["M"] == Prices() and notes == ["tier M: no prices in the fleet and no M model in the config: cost 0"]
    wrong = Fleet.model_validate(
        {"profiles": FLEET.model_dump()["profiles"], "tiers": {"S": {"profile": "small-gpu", "model": "gpt-9"}}}
    )
    with pytest.raises(PlanError, match="model 'gpt-9' is not in the Envelope config"):
        tier_prices(SAMPLE, wrong)


def test_a_policy_without_next_tier_only_waits_and_a_single_tier_fleet_cannot_reroute() -> None:
    doc = SAMPLE.model_dump(by_alias=True, exclude_unset=True)
    doc["policies"] = [{"name": "seed", "rules": [{"name": "all", "then": {"tier": "M", "capacity": ["wait"]}}]}]
    config = ConfigSet.model_validate(doc)
    assert plan_of(row(route="docs"), config=config).steps == ("wait",)
    only_s = Fleet.model_validate(
        {"profiles": FLEET.model_dump()["profiles"], "tiers": {"S": {"profile": "small-gpu"}}}
    )
    plan = plan_of(row(), fleet=only_s)
    assert plan.tiers == ("S",) and plan.steps == ("wait",)
    no_tier = Fleet.model_validate(
        {"profiles": FLEET.model_dump()["profiles"], "tiers": {"L": {"profile": "small-gpu"}}}
    )
    capped = doc | {"policies": [{"name": "seed", "rules": [{"name": "all", "then": {"max_tier": "M"}}]}]}
    assert plan_of(row(route="docs"), config=ConfigSet.model_validate(capped), fleet=no_tier).rejected == "no_tier"
