"""Documents of the closed loop: adaptive control, experiments (A/B, canary, shadow)
and how gateways follow the policy registry. `documents.py` places them in routes and
the gateway section."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from envelope.config.base import Document, Tier


class AdaptiveDoc(Document):
    """Adaptive control of a route (`core/control.py`): when its p95 stays over the target,
    serve it from a smaller tier; recover, one step at a time, with hysteresis."""

    p95_ms: float | None = Field(default=None, gt=0, description="The p95 to hold; default: the route's latency.p95_ms")
    window_s: float = Field(default=60.0, gt=0, description="Rolling window the p95 is measured over")
    min_requests: int = Field(default=20, ge=1, description="Fewer requests in the window: no decision")
    breach_for_s: float = Field(default=30.0, ge=0, description="How long the p95 must stay over target to downgrade")
    recover_ratio: float = Field(
        default=0.8, gt=0, le=1, description="Recover when the nominal tier's p95 is under this share of the target"
    )
    recover_for_s: float = Field(default=60.0, ge=0, description="How long it must stay there (hysteresis)")
    probe_share: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Share of a downgraded route's requests kept at the nominal tier, to see it recover",
    )
    min_probes: int = Field(default=5, ge=1, description="Probes needed in the window to judge the nominal tier")
    retry_after_s: float = Field(
        default=300.0, gt=0, description="Too few probes for this long: try one level up anyway"
    )
    max_steps: int = Field(default=1, ge=1, le=2, description="Most tiers a route is lowered by")


class SpendControlDoc(Document):
    """When a tenant's spend nears its budget: a cheaper tier and a more eager cache."""

    threshold: float = Field(default=0.8, gt=0, le=1, description="Share of the budget spent that starts economy")
    hysteresis: float = Field(default=0.05, ge=0, lt=1, description="Economy ends below threshold − hysteresis")
    lower_tier: bool = Field(default=True, description="Serve economy requests one tier lower")
    cache_relief: float = Field(
        default=0.03, ge=0, lt=0.5, description="Lower the semantic-cache threshold by this in economy"
    )


class ArmDoc(Document):
    """One arm of an experiment: the route as configured, changed by what the arm sets."""

    name: str
    weight: float = Field(ge=0, description="Share of the route's units (keys or requests), relative to the others")
    policy: str | None = Field(default=None, description="Route this arm's requests with this policy instead")
    quality_tier: Tier | None = Field(default=None, description="This arm's base tier instead of the route's")
    model: str | None = Field(default=None, description="Serve this arm's `model: auto` requests with this model")


class RollbackDoc(Document):
    """When a canary's candidate is rolled back (all its traffic back to the control arm)."""

    min_requests: int = Field(default=50, ge=1, description="Requests the candidate needs in the window to be judged")
    window_s: float = Field(default=300.0, gt=0, description="Window the arms are compared over")
    max_p95_ratio: float = Field(default=1.5, gt=1, description="Candidate p95 over this × control's: roll back")
    max_error_rate_delta: float = Field(default=0.02, ge=0, le=1, description="Error rate over control's + this")
    max_guard_rate_delta: float = Field(
        default=0.05, ge=0, le=1, description="Share of answers a guardrail changed or flagged over control's + this"
    )
    registry: bool = Field(
        default=True,
        description="When the active config version introduced this canary, also roll the registry back to the "
        "last-known-good version (every replica follows; the version is marked bad)",
    )


class ExperimentDoc(Document):
    """A weighted A/B test or a canary on a route. The first arm is the control."""

    name: str
    kind: Literal["ab", "canary"] = Field(default="ab", description="canary: rolled back automatically on breach")
    unit: Literal["key", "request"] = Field(
        default="key", description="What is assigned to an arm: each API key (sticky) or each request"
    )
    arms: list[ArmDoc] = Field(min_length=2)
    rollback: RollbackDoc = RollbackDoc()

    @model_validator(mode="after")
    def _arms(self) -> ExperimentDoc:
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise ValueError(f"experiment {self.name!r}: an arm name is declared twice")
        if sum(a.weight for a in self.arms) <= 0:
            raise ValueError(f"experiment {self.name!r}: the arms' weights add up to 0")
        if self.kind == "canary" and len(self.arms) != 2:
            raise ValueError(f"experiment {self.name!r}: a canary has two arms, control and candidate")
        return self


class ShadowDoc(Document):
    """Shadow traffic: the primary answers; the shadow model is asked the same afterwards,
    off the request's path, never billed to the tenant; both are kept for comparison
    (`envelope experiments shadow`)."""

    model: str = Field(description="The model asked in the shadow")
    share: float = Field(default=1.0, gt=0, le=1, description="Share of the route's answered requests shadowed")
    max_in_flight: int = Field(default=4, ge=1, description="Shadow calls at once; more are dropped, not queued")
    timeout_s: float = Field(default=30.0, gt=0)


class ControlDoc(Document):
    """The adaptive controller's loop (routes opt in with `adaptive`; tenants with budgets
    are watched for spend when `spend` is set)."""

    interval_s: float = Field(default=1.0, gt=0, description="How often routes and spend are evaluated")
    spend: SpendControlDoc | None = Field(default=None, description="Economy for tenants near their budget")


class RegistryDoc(Document):
    """The policy registry: the config documents are versioned in the store; gateways
    follow its active version (`envelope apply`, `envelope rollback`) without a restart."""

    enabled: bool = Field(default=True, description="Version the documents and follow the active version")
    on_start: Literal["file", "registry"] = Field(
        default="file",
        description="At start: apply the config file's documents (a new version if they changed), or serve "
        "the registry's active version (the file's only when none is active yet)",
    )
    poll_interval_s: float = Field(default=1.0, gt=0, description="How often the active version is read")
