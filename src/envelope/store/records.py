"""What the store keeps beside the ledger: the control plane's transitions, shadow
results and sampled payloads. Plain values; the modules that make them are
`control/transitions.py`, `control/shadow.py` and `ledger/samples.py`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TransitionRecord:
    """One change of a route's control level or of a tenant's economy, as stored."""

    ts: float
    scope: str  # route:NAME | tenant:NAME | experiment:ROUTE/NAME
    kind: str  # latency | spend | canary
    direction: str  # down | up
    from_level: int
    to_level: int
    reason: str
    p95_ms: float | None
    target_ms: float | None
    downgraded_s: float | None


@dataclass(frozen=True, slots=True)
class ShadowRecord:
    """A shadow call beside the primary answer it shadowed (`control/shadow.py`)."""

    request_id: str
    ts: float
    tenant: str
    route: str
    primary_model: str
    shadow_model: str
    status: str  # ok | error code
    primary_ms: float
    shadow_ms: float
    primary_cost_usd: float
    shadow_cost_usd: float
    primary_output_tokens: int
    shadow_output_tokens: int
    primary_text: str
    shadow_text: str


@dataclass(frozen=True, slots=True)
class PayloadSample:
    """A sampled request and its answer (PII redacted), kept for `envelope replay`."""

    request_id: str
    ts: float
    tenant: str
    route: str
    feature: str | None
    config_version: int | None
    request: str  # the chat request as JSON: messages (PII redacted) and the parameters above
    answer: str  # the answer's text, PII redacted
    status: int
    model: str
    tier: str | None
    latency_ms: float
    ttft_ms: float | None
    cost_usd: float
    cache: str
