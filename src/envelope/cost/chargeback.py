"""Chargeback statements: what each group (tenant, route or feature) is billed under
its plan, from the ledger's totals for a period. Pure: totals and plans in, lines out.

Money is `Decimal` throughout: config prices and ledger sums (floats) enter through
their shortest decimal form (`repr`), so 0.15 is exactly 0.15. A line's charge is
computed unrounded (usage, then the markup, then the pro-rata monthly minimum) and
rounded once, half up, to the chargeback's precision (cents by default, or
micro-dollars); a statement's total is the sum of its rounded lines, as an invoice's
would be. The provider cost is shown rounded to micro-dollars.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from envelope.config.chargeback import (
    AtCostPlan,
    ChargebackDoc,
    PerQueryPlan,
    PerTokenPlan,
    Plan,
    TieredPlan,
    VolumeTier,
)
from envelope.ledger.rollup import Totals, combine, grouped

Dimension = Literal["tenant", "route", "feature"]
Precision = Literal["cents", "micros"]
QUANTUM: dict[Precision, Decimal] = {"cents": Decimal("0.01"), "micros": Decimal("0.000001")}
MILLION = Decimal(1_000_000)
ZERO = Decimal(0)
# Groups with no plan (and no default plan) are billed what the provider cost, nothing more.
AT_COST = AtCostPlan(type="at_cost", name="at cost")


def dec(value: float) -> Decimal:
    """A float as the decimal it is written as (0.15 → Decimal('0.15'))."""
    return Decimal(repr(value))


@dataclass(frozen=True, slots=True)
class Usage:
    """A group's ledger totals for the period, overall and per tier served (None: no tier)."""

    group: str
    total: Totals
    by_tier: Mapping[str | None, Totals]

    @classmethod
    def of(cls, group: str, lines: Iterable[Totals]) -> Usage:
        """From rollup lines grouped by (..., tier): the tier is the last group value."""
        by_tier: dict[str | None, Totals] = {}
        for line in lines:
            tier = line.group[-1] if line.group else None
            by_tier[tier] = by_tier[tier] + line if tier in by_tier else line
        return cls(group, combine(by_tier.values(), group=(group,)), by_tier)

    @classmethod
    def empty(cls, group: str) -> Usage:
        return cls(group, Totals(group=(group,)), {})


@dataclass(frozen=True, slots=True)
class Charge:
    """One statement line."""

    group: str
    plan: str
    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    provider_cost_usd: Decimal  # the ledger's cost, rounded to micro-dollars
    usage_usd: Decimal  # the plan's price of the usage, unrounded
    markup_usd: Decimal  # unrounded
    minimum_topup_usd: Decimal  # what the monthly minimum added, unrounded
    charged_usd: Decimal  # rounded to the precision

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def tiered_amount(volume: int, tiers: Sequence[VolumeTier], unit: Decimal) -> Decimal:
    """`volume` priced by tiers: each tier's price applies to the units between the
    previous tier's `up_to` and its own; `unit` is how many units a price is for."""
    amount, floor = ZERO, 0
    for tier in tiers:
        ceiling = volume if tier.up_to is None else min(volume, tier.up_to)
        if ceiling > floor:
            amount += Decimal(ceiling - floor) * dec(tier.price_usd) / unit
        if tier.up_to is None or volume <= tier.up_to:
            break
        floor = tier.up_to
    return amount


def usage_amount(plan: Plan, usage: Usage) -> Decimal:
    """What the plan charges for the usage, before markup and minimum."""
    total = usage.total
    if isinstance(plan, AtCostPlan):
        return dec(total.cost_usd)
    if isinstance(plan, PerTokenPlan):
        cached = min(total.cached_tokens, total.input_tokens)
        cached_price = plan.cached_input_per_1m if plan.cached_input_per_1m is not None else plan.input_per_1m
        return (
            Decimal(total.input_tokens - cached) * dec(plan.input_per_1m)
            + Decimal(cached) * dec(cached_price)
            + Decimal(total.output_tokens) * dec(plan.output_per_1m)
        ) / MILLION
    if isinstance(plan, PerQueryPlan):
        amount = ZERO
        for tier, line in usage.by_tier.items():
            billed = line.requests if plan.bill_errors else line.requests - line.errors
            price = next((p for t, p in plan.per_tier_usd.items() if t == tier), plan.per_request_usd)
            amount += Decimal(billed) * dec(price)
        return amount
    assert isinstance(plan, TieredPlan)
    if plan.unit == "requests":
        return tiered_amount(total.requests, plan.tiers, Decimal(1))
    return tiered_amount(total.input_tokens + total.output_tokens, plan.tiers, MILLION)


def charge(plan: Plan, usage: Usage, *, months: Decimal, precision: Precision = "cents") -> Charge:
    """A statement line: usage at the plan's prices, plus the markup, raised to the monthly
    minimum (× `months`, the calendar months the period covers), rounded once."""
    amount = usage_amount(plan, usage)
    markup = amount * dec(plan.markup)
    floor = dec(plan.minimum_usd) * months
    topup = max(floor - (amount + markup), ZERO)
    total = usage.total
    return Charge(
        group=usage.group,
        plan=plan.name,
        requests=total.requests,
        errors=total.errors,
        input_tokens=total.input_tokens,
        output_tokens=total.output_tokens,
        cached_tokens=total.cached_tokens,
        provider_cost_usd=dec(total.cost_usd).quantize(QUANTUM["micros"], rounding=ROUND_HALF_UP),
        usage_usd=amount,
        markup_usd=markup,
        minimum_topup_usd=topup,
        charged_usd=(amount + markup + topup).quantize(QUANTUM[precision], rounding=ROUND_HALF_UP),
    )


def plan_for(doc: ChargebackDoc, dimension: Dimension, group: str) -> Plan:
    """The plan a group is assigned, else the default plan, else at cost."""
    name = doc.assigned(dimension).get(group, doc.default_plan)
    if name is None:
        return AT_COST
    return next(p for p in doc.plans if p.name == name)


def statement(doc: ChargebackDoc, dimension: Dimension, lines: Iterable[Totals], *, months: Decimal) -> list[Charge]:
    """Every group's line, most charged first. `lines` are rollup totals by (dimension,
    tier); groups assigned a plan by name get a line even without usage (a minimum may
    apply)."""
    groups = grouped(lines)  # a line without a group value under "-"
    usages = [Usage.of(name, found) for name, found in groups.items()]
    usages += [Usage.empty(name) for name in doc.assigned(dimension) if name not in groups]
    charges = [charge(plan_for(doc, dimension, u.group), u, months=months, precision=doc.precision) for u in usages]
    return sorted(charges, key=lambda c: (-c.charged_usd, -c.provider_cost_usd, c.group))


def totals(charges: Sequence[Charge]) -> Charge:
    """The statement's total line (charged = the sum of the rounded lines)."""
    return Charge(
        group="total",
        plan="",
        requests=sum(c.requests for c in charges),
        errors=sum(c.errors for c in charges),
        input_tokens=sum(c.input_tokens for c in charges),
        output_tokens=sum(c.output_tokens for c in charges),
        cached_tokens=sum(c.cached_tokens for c in charges),
        provider_cost_usd=sum((c.provider_cost_usd for c in charges), ZERO),
        usage_usd=sum((c.usage_usd for c in charges), ZERO),
        markup_usd=sum((c.markup_usd for c in charges), ZERO),
        minimum_topup_usd=sum((c.minimum_topup_usd for c in charges), ZERO),
        charged_usd=sum((c.charged_usd for c in charges), ZERO),
    )


def row(c: Charge) -> dict[str, object]:
    """A line as plain values for JSON and CSV (money as numbers, exact to its rounding)."""
    return {
        "group": c.group,
        "plan": c.plan,
        "requests": c.requests,
        "errors": c.errors,
        "input_tokens": c.input_tokens,
        "output_tokens": c.output_tokens,
        "cached_tokens": c.cached_tokens,
        "tokens": c.tokens,
        "provider_cost_usd": float(c.provider_cost_usd),
        "charged_usd": float(c.charged_usd),
        "markup_usd": float(c.markup_usd.quantize(QUANTUM["micros"], rounding=ROUND_HALF_UP)),
        "minimum_topup_usd": float(c.minimum_topup_usd.quantize(QUANTUM["micros"], rounding=ROUND_HALF_UP)),
    }
