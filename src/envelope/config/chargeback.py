"""Chargeback plans (`gateway.chargeback`): how usage is billed internally.

A plan is chosen by its `type` tag: `per_query` (a price per request, optionally per
tier), `per_token` (prices per 1M input, cached input and output tokens), `at_cost`
(the ledger's provider cost) or `tiered` (volume tiers within the statement's period).
Every plan may add a `markup` and a monthly `minimum_usd`. Groups (tenants, routes,
features) are assigned plans by name; the others get `default_plan`, or are billed at
cost when there is none. `envelope report chargeback` reads it (`envelope/cost/`).
"""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Literal

from pydantic import Field, model_validator

from envelope.config.base import Document, Tier


class _Plan(Document):
    name: str
    markup: float = Field(default=0.0, ge=-1.0, description="Added to the usage charge: 0.1 = +10 %, -0.2 = 20 % off")
    minimum_usd: float = Field(
        default=0.0, ge=0, description="Least charge per calendar month (pro rata for part of a month)"
    )


class PerQueryPlan(_Plan):
    """A price per request; `per_tier_usd` overrides it for requests served from a tier."""

    type: Literal["per_query"]
    per_request_usd: float = Field(ge=0, description="Price of one request")
    per_tier_usd: dict[Tier, float] = Field(default_factory=dict, description="Price of a request served from a tier")
    bill_errors: bool = Field(default=False, description="Also bill requests that ended in an error (status >= 400)")


class PerTokenPlan(_Plan):
    """Prices per 1M tokens; cached input tokens at `cached_input_per_1m` (default: the input price)."""

    type: Literal["per_token"]
    input_per_1m: float = Field(ge=0)
    output_per_1m: float = Field(ge=0)
    cached_input_per_1m: float | None = Field(default=None, ge=0, description="Default: input_per_1m")


class AtCostPlan(_Plan):
    """The provider cost the ledger recorded, with the markup (if any) on top."""

    type: Literal["at_cost"]


class VolumeTier(Document):
    up_to: int | None = Field(default=None, ge=1, description="Cumulative volume where this tier ends; unset: the rest")
    price_usd: float = Field(ge=0, description="Per 1M tokens (unit: tokens) or per request (unit: requests)")


class TieredPlan(_Plan):
    """Volume pricing: the first `up_to` units at the first tier's price, the next ones at
    the next tier's, and so on; the volume counts from the start of the statement."""

    type: Literal["tiered"]
    unit: Literal["tokens", "requests"] = Field(default="tokens", description="tokens: input + output")
    tiers: list[VolumeTier] = Field(min_length=1)

    @model_validator(mode="after")
    def _ascending(self) -> TieredPlan:
        bounds = [t.up_to for t in self.tiers]
        if bounds[-1] is not None:
            raise ValueError(f"plan {self.name!r}: the last tier must have no up_to (it takes the rest)")
        if any(b is None for b in bounds[:-1]):
            raise ValueError(f"plan {self.name!r}: only the last tier may leave up_to unset")
        limits = [b for b in bounds[:-1] if b is not None]
        if any(a >= b for a, b in pairwise(limits)):
            raise ValueError(f"plan {self.name!r}: tier bounds must rise strictly")
        return self


Plan = Annotated[PerQueryPlan | PerTokenPlan | AtCostPlan | TieredPlan, Field(discriminator="type")]


class ChargebackDoc(Document):
    precision: Literal["cents", "micros"] = Field(
        default="cents", description="Charges are rounded (half up) to cents or to micro-dollars"
    )
    plans: list[Plan] = Field(default_factory=list)
    default_plan: str | None = Field(default=None, description="Plan of groups not assigned one; unset: at cost")
    tenants: dict[str, str] = Field(default_factory=dict, description="Tenant name → plan name")
    routes: dict[str, str] = Field(default_factory=dict, description="Route name → plan name")
    features: dict[str, str] = Field(default_factory=dict, description="Feature → plan name")

    def assigned(self, dimension: Literal["tenant", "route", "feature"]) -> dict[str, str]:
        """The groups of a dimension assigned a plan by name: group → plan name."""
        return {"tenant": self.tenants, "route": self.routes, "feature": self.features}[dimension]

    @model_validator(mode="after")
    def _plans_resolve(self) -> ChargebackDoc:
        names = [p.name for p in self.plans]
        if len(set(names)) != len(names):
            raise ValueError("chargeback: a plan name is declared twice")
        known = set(names)
        if self.default_plan is not None and self.default_plan not in known:
            raise ValueError(f"chargeback: default_plan names unknown plan {self.default_plan!r}")
        for kind, assigned in (("tenants", self.tenants), ("routes", self.routes), ("features", self.features)):
            for group, plan in assigned.items():
                if plan not in known:
                    raise ValueError(f"chargeback.{kind}: {group!r} names unknown plan {plan!r}")
        return self
