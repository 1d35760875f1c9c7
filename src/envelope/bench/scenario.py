"""`envelope bench scenario`: a realistic mixed workload through Envelope, beside a naive
baseline, in the same run.

One run builds the workload once (`scenario_workload`: FAQ paraphrases, complex tasks,
high-risk intents, open-loop Poisson arrivals with bursts), then, for each side in turn —
**naive** (every request to tier L, nothing else) and **envelope** (classifier-driven
policies, exact + semantic cache, tier routing, capacity gates, budgets, adaptive
control: `scenario_configs`) — starts a fresh stand-in upstream with per-tier latency and
capacity (`scenario_upstream`, launched as the fake upstream is) and a real `envelope serve` process with that side's
config, sends the same schedule through it (`scenario_client`), reads its adaptive
control figures, and stops both. The figures (`scenario_summary`) are compared side by
side by the CLI.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envelope.bench import scenario_client
from envelope.bench.processes import issue_tenant_keys, start_fake_upstream, start_gateway
from envelope.bench.scenario_configs import BUDGETS, NAIVE_TIMEOUT_MS, envelope_config, naive_config
from envelope.bench.scenario_summary import Outcome, Summary, summarise
from envelope.bench.scenario_workload import TENANTS, ScenarioRequest, WorkloadSettings, build

SIDES: dict[str, Callable[[str], dict[str, Any]]] = {"naive": naive_config, "envelope": envelope_config}


@dataclass(frozen=True, slots=True)
class Side:
    """One side's run: its summary, every request's outcome and the upstream's own counts."""

    name: str
    summary: Summary
    outcomes: list[Outcome]
    upstream: dict[str, Any]
    elapsed_s: float


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    settings: WorkloadSettings
    workload: dict[str, Any]
    sides: dict[str, Side] = field(default_factory=dict)


def describe(requests: list[ScenarioRequest]) -> dict[str, Any]:
    """The workload's make-up: requests per route and kind, in bursts, FAQ families."""
    by_route: dict[str, int] = {}
    by_kind: dict[str, int] = {}
    for r in requests:
        by_route[r.route] = by_route.get(r.route, 0) + 1
        by_kind[r.kind] = by_kind.get(r.kind, 0) + 1
    families = {r.family for r in requests if r.family is not None}
    return {
        "requests": len(requests),
        "by_route": by_route,
        "by_kind": by_kind,
        "in_bursts": sum(r.in_burst for r in requests),
        "faq_families_asked": len(families),
        "distinct_texts": len({r.text for r in requests}),
    }


def _stats(root: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{root}/stats", timeout=5) as response:
        stats: dict[str, Any] = json.loads(response.read())
    return stats


def _warm_up_requests() -> list[ScenarioRequest]:
    """One request per route, with texts the workload never sends."""
    return [
        ScenarioRequest(-1 - i, 0.0, route, TENANTS[route], "warm-up", f"Warm-up request {i} for {route}.", 16, False)
        for i, route in enumerate(TENANTS)
    ]


def run_side(
    name: str, requests: list[ScenarioRequest], directory: Path, progress: Callable[[str], None] | None = None
) -> Side:
    """Start the upstream and the gateway for one side, send the workload, collect."""
    say = progress or (lambda _: None)
    upstream = start_fake_upstream("envelope.bench.scenario_upstream")
    try:
        say(f"{name}: starting the gateway…")
        gateway = start_gateway(directory, SIDES[name](upstream.url()), env={"OPENBLAS_NUM_THREADS": "1"})
        try:
            keys = issue_tenant_keys(gateway, list(TENANTS.values()))
            asyncio.run(scenario_client.warm_up(gateway.root, keys, _warm_up_requests()))
            say(f"{name}: sending {len(requests)} requests…")
            began_wall, began = time.time(), time.monotonic()
            timeout_s = max(b.deadline_ms for b in BUDGETS.values()) / 1000 + NAIVE_TIMEOUT_MS / 1000
            outcomes = asyncio.run(scenario_client.drive(gateway.root, keys, requests, timeout_s=timeout_s))
            elapsed = time.monotonic() - began
            time.sleep(1.0)  # one more control tick, so the downgrade time is counted to the end
            control = asyncio.run(scenario_client.control(gateway.root, gateway.admin_key, began_wall))
            stats = _stats(f"http://127.0.0.1:{upstream.port}")
        finally:
            gateway.stop()
    finally:
        upstream.stop()
    return Side(name, summarise(outcomes, BUDGETS, control), outcomes, stats, elapsed)


def run(settings: WorkloadSettings, progress: Callable[[str], None] | None = None) -> ScenarioResult:
    """Both sides, naive first, over the same schedule."""
    requests = build(settings)
    result = ScenarioResult(settings, describe(requests))
    with tempfile.TemporaryDirectory(prefix="envelope-scenario-") as tmp:
        for name in SIDES:
            result.sides[name] = run_side(name, requests, Path(tmp) / name, progress)
    return result
