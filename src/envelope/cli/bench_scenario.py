"""`envelope bench scenario`: the seed scenario, Envelope against a naive baseline."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from envelope.cli.common import console, err_console

if TYPE_CHECKING:
    from envelope.bench.scenario import ScenarioResult
    from envelope.bench.scenario_summary import Summary

Row = tuple[str, str, str, str]  # metric, naive, envelope, change


def scenario(
    duration: Annotated[float, typer.Option(help="Seconds of load sent to each side.")] = 45.0,
    rate: Annotated[float, typer.Option(help="Base arrival rate, requests per second (bursts are 3× it).")] = 6.0,
    seed: Annotated[int, typer.Option(help="Seed of the workload (texts and arrival times).")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """A realistic mixed workload through Envelope and a naive baseline, side by side.

    FAQ paraphrases, complex tasks, high-risk intents and bursts, sent open-loop to
    Envelope and to a naive gateway (every request to tier L, no cache, no routing),
    both in front of a stand-in upstream with per-tier latency and capacity. Prints
    p95/p99 latency per route, cache hit rate, share served by tier S or cache, cost per
    1K requests, budget violations and downgrade time. Takes about 2 minutes.
    """
    if duration <= 0 or rate <= 0:
        err_console.print("[red]--duration and --rate must be positive[/red]")
        raise typer.Exit(2)
    from envelope.bench.scenario import run
    from envelope.bench.scenario_workload import WorkloadSettings

    settings = WorkloadSettings(duration_s=duration, rate=rate, seed=seed)
    err_console.print(
        f"[dim]seed scenario: {duration:g}s at {rate:g} req/s (bursts ×{settings.burst_factor:g}), "
        "naive then envelope…[/dim]"
    )
    result = run(settings, progress=lambda line: err_console.print(f"[dim]{line}[/dim]"))
    if as_json:
        print(json.dumps(document(result), indent=2))
        return
    console.print(table(result))
    for line in result.sides["envelope"].summary.control.transitions:
        console.print(f"[dim]envelope control: {line}[/dim]")


def document(result: ScenarioResult) -> dict[str, Any]:
    """The run as JSON: settings, workload, and per side its summary and upstream counts."""
    return {
        "settings": dataclasses.asdict(result.settings),
        "workload": result.workload,
        "sides": {
            name: {
                "summary": dataclasses.asdict(side.summary) | {"violation_rate": side.summary.violation_rate},
                "upstream": side.upstream,
                "elapsed_s": side.elapsed_s,
            }
            for name, side in result.sides.items()
        },
    }


def _relative(before: float, after: float) -> str:
    if before == 0:
        return "—" if after == 0 else "new"
    return f"{(after - before) / before:+.0%}"


def _points(before: float, after: float) -> str:
    return f"{100 * (after - before):+.1f} pp"


def _rows(naive: Summary, env: Summary) -> list[Row]:
    rows = _latency_rows(naive, env)
    for label, a, b in (
        ("cache hit rate (all answered)", naive.cache_hit_rate, env.cache_hit_rate),
        ("cache hit rate (support route)", naive.support_cache_hit_rate, env.support_cache_hit_rate),
        ("served by tier S or cache", naive.share_s_or_cache, env.share_s_or_cache),
        ("served by tier L", naive.share_l, env.share_l),
        ("high-risk requests on tier L", naive.high_risk_on_l, env.high_risk_on_l),
    ):
        rows.append((label, f"{a:.1%}", f"{b:.1%}", _points(a, b)))
    before, after = naive.cost_per_1k_usd, env.cost_per_1k_usd
    rows.append(("cost per 1K requests", f"${before:,.2f}", f"${after:,.2f}", _relative(before, after)))
    rows += _violation_rows(naive, env)
    rows.append(("downgrade time (adaptive control)", "— (no adaptive control)", _downgrade(env), ""))
    return rows


def _latency_rows(naive: Summary, env: Summary) -> list[Row]:
    rows = []
    for route, before in naive.routes.items():
        after = env.routes[route]
        for q, a, b in (("p95", before.p95_ms, after.p95_ms), ("p99", before.p99_ms, after.p99_ms)):
            rows.append((f"{route}: {q} latency", f"{a:,.0f} ms", f"{b:,.0f} ms", _relative(a, b)))
    return rows


def _violation_rows(naive: Summary, env: Summary) -> list[Row]:
    nv, ev = naive.violations, env.violations
    rows = [
        (
            "budget violations",
            f"{nv.total} ({naive.violation_rate:.1%})",
            f"{ev.total} ({env.violation_rate:.1%})",
            _relative(nv.total, ev.total),
        )
    ]
    for label, a, b in (
        ("  not answered (error, refused)", nv.failed, ev.failed),
        ("  answered after the deadline", nv.late, ev.late),
        ("  over the cost ceiling", nv.over_cost, ev.over_cost),
    ):
        rows.append((label, str(a), str(b), _relative(a, b)))
    return rows


def _downgrade(summary: Summary) -> str:
    c = summary.control
    return f"{c.downgraded_s:.1f} s ({c.downgrades} down, {c.recoveries} up)"


def table(result: ScenarioResult) -> Table:
    naive, env = result.sides["naive"].summary, result.sides["envelope"].summary
    w = result.workload
    title = (
        f"envelope bench scenario: {w['requests']} requests in {result.settings.duration_s:g}s "
        f"({result.settings.rate:g} req/s, {w['in_bursts']} in bursts), seed {result.settings.seed}"
    )
    caption = (
        f"answered: naive {naive.answered}/{naive.requests}, envelope {env.answered}/{env.requests}; "
        f"envelope served by {env.tiers}; shares and cost are of answered requests; latency of all, "
        "from their scheduled send time; stand-in upstream (per-tier latency and slots, see README)"
    )
    out = Table("metric", "naive (all tier L)", "envelope", "change", title=title, caption=caption)
    for row in _rows(naive, env):
        out.add_row(*row)
    return out
