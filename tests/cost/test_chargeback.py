"""Chargeback plans and statements: pure arithmetic over ledger totals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from envelope.config.chargeback import ChargebackDoc, PerQueryPlan, PerTokenPlan, TieredPlan, VolumeTier
from envelope.cost.chargeback import AT_COST, Usage, charge, plan_for, row, statement, tiered_amount, totals
from envelope.ledger.rollup import Totals

ONE = Decimal(1)
MILLION = Decimal(1_000_000)
VOLUME = [
    VolumeTier(up_to=1_000_000, price_usd=1.0),
    VolumeTier(up_to=10_000_000, price_usd=0.8),
    VolumeTier(price_usd=0.5),
]


def usage(group: str = "acme", **tiers: dict[str, Any]) -> Usage:
    """Usage from per-tier totals (keyword = tier; `none` for rows without a tier)."""
    lines = [Totals(group=(group, None if tier == "none" else tier), **fields) for tier, fields in tiers.items()]
    return Usage.of(group, lines)


@pytest.mark.parametrize(
    ("volume", "expected"),
    [
        (0, "0"),
        (999_999, "0.999999"),
        (1_000_000, "1"),  # the first tier's last token
        (1_000_001, "1.0000008"),  # the first token of the second tier
        (10_000_000, "8.2"),  # 1 + 9 × 0.8
        (10_000_001, "8.2000005"),
        (14_000_000, "10.2"),  # + 4 × 0.5
    ],
)
def test_tiered_boundaries_are_exact(volume: int, expected: str) -> None:
    assert tiered_amount(volume, VOLUME, MILLION) == Decimal(expected)


def test_tiered_by_requests_prices_each_request() -> None:
    plan = TieredPlan(
        type="tiered",
        name="v",
        unit="requests",
        tiers=[VolumeTier(up_to=100, price_usd=0.01), VolumeTier(price_usd=0.005)],
    )
    line = charge(plan, usage(S={"requests": 150}), months=ONE)
    assert line.usage_usd == Decimal("1.25")  # 100 × 0.01 + 50 × 0.005
    assert line.charged_usd == Decimal("1.25")


def test_tiered_tokens_count_input_and_output() -> None:
    plan = TieredPlan(type="tiered", name="v", tiers=VOLUME)
    line = charge(plan, usage(M={"requests": 3, "input_tokens": 600_000, "output_tokens": 600_000}), months=ONE)
    assert line.usage_usd == Decimal("1.16")  # 1M at 1.00 + 0.2M at 0.80


def test_per_query_prices_by_tier_and_skips_errors_unless_asked() -> None:
    plan = PerQueryPlan(type="per_query", name="q", per_request_usd=0.002, per_tier_usd={"L": 0.01})
    used = usage(S={"requests": 10, "errors": 2}, L={"requests": 5}, none={"requests": 3})
    assert charge(plan, used, months=ONE).usage_usd == Decimal("0.016") + Decimal("0.05") + Decimal("0.006")
    billing_errors = plan.model_copy(update={"bill_errors": True})
    assert charge(billing_errors, used, months=ONE).usage_usd == Decimal("0.020") + Decimal("0.05") + Decimal("0.006")


def test_per_token_bills_cached_input_at_its_price() -> None:
    plan = PerTokenPlan(type="per_token", name="t", input_per_1m=0.5, output_per_1m=1.5, cached_input_per_1m=0.25)
    used = usage(M={"requests": 1, "input_tokens": 3_000_000, "cached_tokens": 1_000_000, "output_tokens": 2_000_000})
    assert charge(plan, used, months=ONE).usage_usd == Decimal("1.0") + Decimal("0.25") + Decimal("3.0")
    no_cached_price = plan.model_copy(update={"cached_input_per_1m": None})
    assert charge(no_cached_price, used, months=ONE).usage_usd == Decimal("4.5")


def test_at_cost_adds_the_markup_and_rounds_half_up_once() -> None:
    marked = AT_COST.model_copy(update={"markup": 0.1})
    line = charge(marked, usage(S={"requests": 1, "cost_usd": 0.05}), months=ONE)
    assert line.markup_usd == Decimal("0.005")
    assert line.charged_usd == Decimal("0.06")  # 0.055
    # half up, not half even (which would give 0.04)
    assert charge(AT_COST, usage(S={"requests": 1, "cost_usd": 0.045}), months=ONE).charged_usd == Decimal("0.05")
    assert charge(AT_COST, usage(S={"requests": 1, "cost_usd": 0.044999}), months=ONE).charged_usd == Decimal("0.04")
    micros = charge(AT_COST, usage(S={"requests": 1, "cost_usd": 0.0000125}), months=ONE, precision="micros")
    assert micros.charged_usd == Decimal("0.000013")
    assert micros.provider_cost_usd == Decimal("0.000013")


def test_float_sums_from_the_ledger_are_rounded_to_their_intent() -> None:
    line = charge(AT_COST, usage(S={"requests": 3, "cost_usd": 0.1 + 0.2}), months=ONE)  # 0.30000000000000004
    assert line.charged_usd == Decimal("0.30")
    assert row(line)["charged_usd"] == 0.3


def test_minimum_is_pro_rata_and_only_tops_up() -> None:
    plan = PerQueryPlan(type="per_query", name="q", per_request_usd=1.0, minimum_usd=50.0)
    small = charge(plan, usage(S={"requests": 10}), months=Decimal("0.5"))
    assert small.minimum_topup_usd == Decimal("15") and small.charged_usd == Decimal("25.00")
    large = charge(plan, usage(S={"requests": 60}), months=ONE)
    assert large.minimum_topup_usd == 0 and large.charged_usd == Decimal("60.00")


def test_plans_are_found_by_assignment_then_default_then_at_cost() -> None:
    doc = ChargebackDoc.model_validate(
        {
            "plans": [
                {"name": "q", "type": "per_query", "per_request_usd": 0.01},
                {"name": "c", "type": "at_cost", "markup": 0.2},
            ],
            "tenants": {"acme": "q"},
        }
    )
    assert plan_for(doc, "tenant", "acme").name == "q"
    assert plan_for(doc, "tenant", "beta") is AT_COST
    assert plan_for(doc, "route", "acme") is AT_COST  # assignments are per dimension
    with_default = doc.model_copy(update={"default_plan": "c"})
    assert plan_for(with_default, "tenant", "beta").name == "c"


def test_statement_groups_lines_and_bills_idle_groups_their_minimum() -> None:
    doc = ChargebackDoc.model_validate(
        {
            "plans": [{"name": "q", "type": "per_query", "per_request_usd": 0.5, "minimum_usd": 10}],
            "tenants": {"idle": "q", "acme": "q"},
        }
    )
    lines = [
        Totals(group=("acme", "S"), requests=4, cost_usd=0.25),
        Totals(group=("acme", "L"), requests=40, cost_usd=1.0),
        Totals(group=("beta", "S"), requests=2, cost_usd=0.125),
        Totals(group=(None, None), requests=1, cost_usd=0.001),
    ]
    charges = statement(doc, "tenant", lines, months=ONE)
    assert [(c.group, c.plan, c.requests, c.charged_usd) for c in charges] == [
        ("acme", "q", 44, Decimal("22.00")),
        ("idle", "q", 0, Decimal("10.00")),
        ("beta", "at cost", 2, Decimal("0.13")),  # 0.125 half up
        ("-", "at cost", 1, Decimal("0.00")),
    ]
    total = totals(charges)
    assert total.charged_usd == Decimal("32.13") and total.requests == 47
    assert total.provider_cost_usd == Decimal("1.376")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"plans": [{"name": "v", "type": "tiered", "tiers": [{"up_to": 5, "price_usd": 1}]}]}, "last tier"),
        (
            {"plans": [{"name": "v", "type": "tiered", "tiers": [{"price_usd": 1}, {"price_usd": 2}]}]},
            "only the last tier",
        ),
        (
            {
                "plans": [
                    {
                        "name": "v",
                        "type": "tiered",
                        "tiers": [{"up_to": 5, "price_usd": 1}, {"up_to": 5, "price_usd": 1}, {"price_usd": 1}],
                    }
                ]
            },
            "rise strictly",
        ),
        ({"tenants": {"acme": "nope"}}, "unknown plan 'nope'"),
        ({"default_plan": "nope"}, "unknown plan 'nope'"),
        ({"plans": [{"name": "x", "type": "at_cost"}, {"name": "x", "type": "at_cost"}]}, "declared twice"),
        ({"plans": [{"name": "x", "type": "flat_fee"}]}, "does not match any of the expected tags"),
        ({"plans": [{"name": "x", "type": "at_cost", "surprise": 1}]}, "Extra inputs"),
    ],
)
def test_bad_plans_are_refused(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ChargebackDoc.model_validate(doc)


def test_the_sample_plans_load_with_the_config() -> None:
    from pathlib import Path

    from envelope.config import loader

    sample = Path(__file__).parents[2] / "src" / "envelope" / "sample" / "estimate" / "tiers.yaml"
    doc = loader.load(sample).gateway.chargeback
    assert [p.type for p in doc.plans] == ["at_cost", "per_query", "per_token", "tiered"]
    assert plan_for(doc, "tenant", "acme").name == "volume"
    assert plan_for(doc, "tenant", "other").name == "at-cost-plus"
    assert loader.load(sample.parents[1] / "envelope.yaml").gateway.chargeback == ChargebackDoc()
