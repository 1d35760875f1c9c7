"""`envelope simulate`: a traffic trace through the config's policy and a modelled fleet."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.markup import escape
from rich.table import Table

from envelope.cli.common import ConfigOption, config_path, console, err_console, load_config

if TYPE_CHECKING:
    from envelope.sim.fleet import Fleet
    from envelope.sim.report import Group, Percentiles, Report


def simulate(
    trace: Annotated[
        Path | None, typer.Option(help="Recorded trace: JSONL, one request a line (see README: Capacity planning).")
    ] = None,
    generate: Annotated[
        str | None,
        typer.Option(
            help="Generated trace instead: KEY=VALUE,... with rate (req/s), duration (s), burst_every, "
            "burst_length (s), burst_factor, input_mean, input_sigma, output_mean, output_sigma (tokens, "
            "log-normal), routes, tenants, modes, intents, complexities (NAME:WEIGHT/NAME:WEIGHT), risk.",
        ),
    ] = None,
    fleet: Annotated[
        Path | None, typer.Option(help="Fleet file: profiles and tiers (default: the sample fleet).")
    ] = None,
    config: ConfigOption = None,
    seed: Annotated[int, typer.Option(help="Seed for generated traces and cache hits (same seed, same result).")] = 0,
    cache_hit_rate: Annotated[
        float | None,
        typer.Option(
            min=0.0, max=1.0, help="Share of requests answered from the cache (default: the trace's cache column)."
        ),
    ] = None,
    cache_latency_ms: Annotated[float, typer.Option(min=0.0, help="Latency of a cache hit.")] = 5.0,
    recorded_tiers: Annotated[
        bool, typer.Option("--recorded-tiers", help="Serve rows that name a tier there, not where the policy says.")
    ] = False,
    save_trace: Annotated[Path | None, typer.Option(help="Also write the trace replayed (JSONL) here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Replay a traffic trace through the config's routing policy and a modelled fleet.

    Each tier of the fleet is a pool of replicas that batch continuously, within a batch
    size and a KV-cache budget, behind a bounded wait queue. Prints latency and TTFT
    percentiles, utilisation, queueing, shedding and cost, per tier and per route.
    Exit 2 on a bad trace, fleet, spec or config.
    """
    from envelope.sim import trace as traces
    from envelope.sim.engine import simulate as run
    from envelope.sim.fleet import FleetError, load_fleet, sample_fleet_path
    from envelope.sim.policy import PlanError, Router, tier_prices
    from envelope.sim.report import summarise

    if (trace is None) == (generate is None):
        _usage("give one of --trace FILE or --generate SPEC")
    cfg = load_config(config)
    rng = random.Random(seed)
    fleet_path = fleet or sample_fleet_path()
    try:
        fleet_doc = load_fleet(fleet_path)
        arrivals = traces.load(trace) if trace is not None else traces.generate(traces.parse_spec(generate or ""), rng)
        if not arrivals:
            _usage("the generated trace has no requests: raise rate or duration")
        prices, notes = tier_prices(cfg, fleet_doc)
        router = Router(cfg, fleet_doc, prices, cache_hit_rate=cache_hit_rate, recorded_tiers=recorded_tiers)
        plans = router.plans(arrivals, rng)
    except (traces.TraceError, FleetError, PlanError) as exc:
        _usage(str(exc))
    if save_trace is not None:
        try:
            traces.save(arrivals, save_trace)
        except OSError as exc:
            _usage(f"--save-trace {save_trace}: {exc.strerror or exc}")
    report = summarise(run(fleet_doc, plans, cache_latency_ms=cache_latency_ms), arrivals, prices, notes)
    if as_json:
        document = {"trace": str(trace) if trace else generate, "fleet": str(fleet_path), "seed": seed}
        document["config"] = str(config_path(config))
        print(json.dumps({**document, **report.to_dict()}, indent=2))
        return
    _print(report, fleet_doc)


def _usage(message: str) -> NoReturn:
    err_console.print("[red]cannot simulate[/red]:", escape(message))
    raise typer.Exit(2)


def _ms(p: Percentiles) -> list[str]:
    return [_num(p.p50), _num(p.p95), _num(p.p99)]


def _num(value: float | None, spec: str = ".0f") -> str:
    return format(value, spec) if value is not None else "–"


def _print(report: Report, fleet: Fleet) -> None:
    duration = max(report.duration_s, 1e-9)
    console.print(
        f"{report.overall.requests} requests over {report.duration_s:.1f} s "
        f"({report.overall.requests / duration:.1f} req/s)"
    )
    tiers = Table(
        "tier", "profile", "replicas", "served", "util", "batch mean/max", "queue mean/max", "wait mean/p95 ms",
        "p50 ms", "p95 ms", "p99 ms", "shed", "rerouted", "cost (USD)", title="by tier",
    )  # fmt: skip
    for line in report.tiers:
        tiers.add_row(
            line.tier,
            escape(fleet.tiers[line.tier].profile),
            str(line.replicas),
            str(line.served),
            f"{line.utilisation:.0%}",
            f"{line.mean_batch:.1f} / {fleet.profile(line.tier).max_batch}",
            f"{line.mean_queue:.1f} / {line.max_queue}",
            f"{_num(line.wait_ms.mean)} / {_num(line.wait_ms.p95)}",
            *_ms(line.latency_ms),
            str(line.shed),
            str(line.rerouted_out),
            f"{line.cost_usd:.4f}",
        )
    console.print(tiers)
    routes = Table(
        "route", "requests", "served", "cached", "shed", "rejected", "p50 ms", "p95 ms", "p99 ms",
        "TTFT p50/p95 ms", "wait mean/p95 ms", "cost (USD)", title="by route",
    )  # fmt: skip
    for group in report.routes:
        routes.add_row(*_route_row(group))
    routes.add_section()
    routes.add_row(*_route_row(report.overall))
    console.print(routes)
    console.print(
        f"cost: {report.overall.cost_usd:.4f} USD, {report.cost_per_1k_requests:.4f} USD per 1k requests; "
        f"{report.overall.rerouted} rerouted to another tier"
    )
    for note in report.notes:
        console.print(f"[yellow]note[/yellow]: {escape(note)}")


def _route_row(g: Group) -> list[str]:
    return [
        escape(g.name),
        str(g.requests),
        str(g.served),
        str(g.cached),
        str(g.shed),
        str(g.rejected),
        *_ms(g.latency_ms),
        f"{_num(g.ttft_ms.p50)} / {_num(g.ttft_ms.p95)}",
        f"{_num(g.wait_ms.mean)} / {_num(g.wait_ms.p95)}",
        f"{g.cost_usd:.4f}",
    ]
