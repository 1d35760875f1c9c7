"""The scenario's two gateway configs, both in front of the same stand-in upstream.

- **envelope**: what the project offers, switched on. Three models, one per tier (S, M,
  L); a policy per route with rules on the classifier's verdict (high risk → L and never
  lower; simple support questions → S; high-complexity tasks → L); the exact and semantic
  cache on `support` (exact only on `assistant`, none on `risk`); capacity gates per tier
  matching the upstream's slots, with a bounded wait and then the next tier; latency
  targets (the SLO engine's) and a deadline per route; adaptive control on `support` and
  `assistant` (tuned for a run of a minute: a 10 s window, 2 s of breach to downgrade);
  a daily spend budget per tenant with the spend watch on.
- **naive**: the baseline a team starts from. One model (tier L, the same upstream
  model and prices), every request sent to it: no policy, no classifier, no cache, no
  capacity gate, no adaptive control, no budgets, a 60 s timeout.

Both are real `envelope serve` processes (`bench/processes.py`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Final

import yaml

from envelope.bench.scenario_upstream import PROFILES, TierProfile
from envelope.bench.scenario_workload import MAX_TOKENS, TENANTS
from envelope.config.loader import sample_config_path


@dataclass(frozen=True, slots=True)
class RouteBudget:
    """A route's envelope: its p95 target, its deadline (the latency budget) and its cost ceiling."""

    p95_ms: float
    deadline_ms: float
    cost_ceiling_usd: float


BUDGETS: Final = {
    "support": RouteBudget(p95_ms=2500, deadline_ms=4000, cost_ceiling_usd=0.012),
    "assistant": RouteBudget(p95_ms=8000, deadline_ms=15000, cost_ceiling_usd=0.05),
    "risk": RouteBudget(p95_ms=4000, deadline_ms=8000, cost_ceiling_usd=0.05),
}
NAIVE_TIMEOUT_MS: Final = 60_000
TENANT_BUDGET_USD: Final = 100.0

# Adaptive control, tuned for a short run (the defaults are for production: a 60 s window).
ADAPTIVE: Final = {
    "window_s": 10,
    "min_requests": 10,
    "breach_for_s": 2,
    "recover_ratio": 0.8,
    "recover_for_s": 4,
    "probe_share": 0.1,
    "min_probes": 3,
    "retry_after_s": 15,
}


def seed_policy() -> dict[str, Any]:
    """The sample config's seed policy (README, "Routing"), with `min_tier: L` on its
    high-risk rule so that neither a remedy nor adaptive control serves high risk below tier L."""
    sample = yaml.safe_load(sample_config_path().read_text())
    seed: dict[str, Any] = copy.deepcopy(next(p for p in sample["policies"] if p["name"] == "seed"))
    next(r for r in seed["rules"] if r["name"] == "high-risk")["then"]["min_tier"] = "L"
    return seed


# The risk route: tier L only; when L is full, wait for it (within the deadline).
FLOOR: Final = {
    "name": "floor",
    "rules": [{"name": "tier-l", "then": {"tier": "L", "min_tier": "L", "capacity": ["wait"]}}],
}
POLICY_OF: Final = {"support": "seed", "assistant": "seed", "risk": "floor"}


def _model(profile: TierProfile, base_url: str) -> dict[str, Any]:
    provider = {"type": "openai", "base_url": base_url, "model": profile.model}
    return {
        "name": profile.model.removeprefix("scenario-"),
        "tier": profile.tier,
        "context_window": 128000,
        "tokenizer": {"type": "tiktoken", "encoding": "o200k_base"},
        "prices": {"input_per_1m": profile.input_per_1m, "output_per_1m": profile.output_per_1m},
        "deployments": [{"name": f"upstream-{profile.tier}", "provider": provider, "timeout_s": 60}],
    }


def _route(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "max_output_tokens": MAX_TOKENS[name], "max_input_tokens": 4096, **extra}


def envelope_config(base_url: str) -> dict[str, Any]:
    """The envelope side: every feature this scenario exercises, on."""
    semantic = {"exact": True, "semantic": {"threshold": 0.905}}
    routes = []
    for name, budget in BUDGETS.items():
        latency = {"p95_ms": budget.p95_ms, "timeout_ms": budget.deadline_ms}
        route = _route(name, policy=POLICY_OF[name], latency=latency, cost_ceiling_usd=budget.cost_ceiling_usd)
        route["quality_tier"] = "L" if name == "risk" else "M"
        if name == "support":
            route |= {"cache": semantic, "adaptive": ADAPTIVE}
        elif name == "assistant":
            route |= {"cache": {"exact": True}, "adaptive": ADAPTIVE}
        routes.append(route)
    capacity = {p.tier: {"concurrency": p.slots, "queue": 64} for p in PROFILES}
    return {
        "gateway": {
            "admission": {"store_url": "memory://", "capacity": capacity},
            "control": {"interval_s": 0.5, "spend": {"threshold": 0.8}},
        },
        "models": [_model(p, base_url) for p in PROFILES],
        "policies": [seed_policy(), FLOOR],
        "routes": routes,
        "tenants": [_tenant(route, budget=True) for route in BUDGETS],
    }


def naive_config(base_url: str) -> dict[str, Any]:
    """The baseline: tier L for everything, nothing else."""
    large = next(p for p in PROFILES if p.tier == "L")
    routes = [_route(name, quality_tier="L", latency={"timeout_ms": NAIVE_TIMEOUT_MS}) for name in BUDGETS]
    return {
        "models": [_model(large, base_url)],
        "routes": routes,
        "tenants": [_tenant(route, budget=False) for route in BUDGETS],
    }


def _tenant(route: str, *, budget: bool) -> dict[str, Any]:
    tenant: dict[str, Any] = {"name": TENANTS[route], "default_route": route, "default_feature": route}
    if budget:
        tenant["budget"] = {"period": "daily", "hard_usd": TENANT_BUDGET_USD}
    return tenant
