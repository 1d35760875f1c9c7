"""`envelope replay`: recorded traffic replayed against a candidate config and the
baseline, side by side, and gated on latency, cost, errors and answer similarity."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from envelope.cli.common import ConfigOption, console, err_console, load_config, quiet_migrations

if TYPE_CHECKING:
    from envelope.config.documents import ConfigSet, GatewayDoc
    from envelope.evals.client import Reply
    from envelope.evals.replay import Replayable, Target
    from envelope.evals.replay_gate import Comparison, Side, Thresholds, Verdict
    from envelope.store.records import PayloadSample

SAMPLING_HINT = (
    "gateways keep a share of requests when gateway.ledger.sample_payloads is above 0 (default 0.01); "
    "raise it, let traffic through, and replay again"
)


def replay(
    candidate: Annotated[Path, typer.Argument(help="The candidate config file or directory.")],
    config: ConfigOption = None,
    database: Annotated[
        str | None,
        typer.Option("--database", help="Database with the samples and the registry (default: the config's)."),
    ] = None,
    baseline: Annotated[
        Path | None, typer.Option(help="Baseline config file or directory (default: a registry version).")
    ] = None,
    baseline_version: Annotated[
        int | None, typer.Option(min=1, help="Baseline: this registry version (default: the active one).")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only samples since: a duration back (30m, 24h, 7d) or an ISO 8601 time.")
    ] = None,
    route: Annotated[str | None, typer.Option(help="Only samples of this route.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many samples (the most recent).")] = 200,
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="Samples in flight (each is sent to both gateways at once).")
    ] = 4,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds per request.")] = 120.0,
    max_p95_increase: Annotated[float, typer.Option(min=0.0, help="Largest allowed rise of p95 latency.")] = 0.10,
    max_cost_increase: Annotated[float, typer.Option(min=0.0, help="Largest allowed rise of mean cost.")] = 0.10,
    min_similarity: Annotated[
        float, typer.Option(min=-1.0, max=1.0, help="Lowest allowed mean answer similarity.")
    ] = 0.80,
    max_error_increase: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Largest allowed rise of the error rate (0.02 = 2 points).")
    ] = 0.02,
    min_requests: Annotated[
        int, typer.Option(min=1, help="Requests a route needs to be gated by itself (and the overall p95).")
    ] = 10,
    p95_slack_ms: Annotated[
        float, typer.Option(min=0.0, help="A p95 rise no larger than this (ms) is noise, whatever its share.")
    ] = 25.0,
    output: Annotated[Path | None, typer.Option(help="Write the full comparison (JSON) here.")] = None,
) -> None:
    """Replay recorded traffic against CANDIDATE and a baseline config; gate on regressions.

    The samples (gateway.ledger.sample_payloads, PII redacted) are read from the database
    of -c CONFIG (or --database). The baseline is --baseline PATH, else registry version
    --baseline-version, else the registry's active version. Two gateways are started, one
    per config, each with its own temporary SQLite store; every sample is sent to both at
    once, as recorded, with its route and x-envelope-cache-control: no-store. They call
    the upstreams their configs name: replaying against paid providers costs money, twice.

    Exit 1 (regression), overall or on a route with at least --min-requests requests, when
    - the candidate's p95 latency exceeds the baseline's by more than --max-p95-increase
      and by more than --p95-slack-ms (the overall p95 also needs --min-requests answers),
    - its mean cost per request exceeds the baseline's by more than --max-cost-increase,
    - its error rate exceeds the baseline's by more than --max-error-increase, or
    - the mean similarity of its answers to the baseline's (MiniLM) is below --min-similarity.
    Exit 0 otherwise; exit 2 on usage errors: no samples, no baseline, an invalid config, a
    gateway that does not start.
    """
    from envelope.evals import replay as runner
    from envelope.evals.replay_gate import Thresholds, decide

    quiet_migrations()  # two new stores: a page of migrations

    thresholds = Thresholds(
        max_p95_increase=max_p95_increase,
        max_cost_increase=max_cost_increase,
        max_error_increase=max_error_increase,
        min_similarity=min_similarity,
        min_requests=min_requests,
        p95_slack_ms=p95_slack_ms,
    )
    started_at = datetime.now(UTC)
    candidate_cfg = load_config(candidate)
    samples, baseline_cfg, label = _inputs(
        config,
        database,
        baseline=baseline,
        version=baseline_version,
        since=since,
        route=route,
        limit=limit,
        now=started_at,
    )
    items, skipped = runner.replayable(
        samples, {t.name for t in baseline_cfg.tenants}, {t.name for t in candidate_cfg.tenants}
    )
    for reason, count in skipped.items():
        err_console.print(f"skipped {count} sample(s): {escape(reason)}")
    if not items:
        _usage(f"none of the {len(samples)} sample(s) can be replayed against both configs")
    err_console.print(
        f"replaying {len(items)} sample(s) against the baseline ({escape(label)}) and the candidate "
        f"({escape(str(candidate))})"
    )
    replies = _replay(baseline_cfg, candidate_cfg, items, concurrency=concurrency, timeout_s=timeout)
    scores = asyncio.run(_similarities(replies))
    pairs = runner.pairs_of(items, replies, scores)
    verdict = decide(pairs, thresholds)
    _print(verdict, thresholds)
    if output is not None:
        run = runner.report(
            verdict,
            pairs,
            baseline=label,
            candidate=str(candidate),
            thresholds=thresholds,
            samples=len(samples),
            skipped=skipped,
            created=started_at,
        )
        runner.save(run, output)
        err_console.print(f"comparison written to {escape(str(output))}")
    raise typer.Exit(0 if verdict.passed else 1)


def _inputs(
    config: Path | None,
    database: str | None,
    *,
    baseline: Path | None,
    version: int | None,
    since: str | None,
    route: str | None,
    limit: int,
    now: datetime,
) -> tuple[list[PayloadSample], ConfigSet, str]:
    """The samples, the baseline config and what to call it; usage errors exit 2."""
    from envelope.evals.replay import parse_since

    if baseline is not None and version is not None:
        _usage("give --baseline or --baseline-version, not both")
    try:
        since_ts = parse_since(since, now) if since is not None else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from exc
    baseline_cfg = load_config(baseline) if baseline is not None else None
    gateway = _gateway(config, database)
    samples, recorded, label = asyncio.run(
        _recorded(
            gateway,
            database,
            since=since_ts,
            route=route,
            limit=limit,
            version=version,
            from_registry=baseline_cfg is None,
        )
    )
    if baseline_cfg is not None:
        return samples, baseline_cfg, str(baseline)
    if recorded is None:
        _usage("no config version is active in the registry: give the baseline config with --baseline PATH")
    return samples, recorded, label


async def _recorded(
    gateway: GatewayDoc,
    database: str | None,
    *,
    since: float | None,
    route: str | None,
    limit: int,
    version: int | None,
    from_registry: bool,
) -> tuple[list[PayloadSample], ConfigSet | None, str]:
    """The samples; with `from_registry`, the baseline version's config and its label
    (None when no version is active and none was named)."""
    from sqlalchemy.exc import SQLAlchemyError

    from envelope.registry.registry import Registry, RegistryError
    from envelope.store import registry as stores

    url = database or gateway.database_url
    store = stores.build(url)
    try:
        await store.open()
        try:
            samples = await store.list_samples(since=since, route=route, limit=limit)
            if not samples:
                where = "" if since is None and route is None else " matching --since/--route"
                _usage(f"no payload samples{where} in {url}: {SAMPLING_HINT}")
            if not from_registry:
                return samples, None, ""
            registry = Registry(store, gateway=gateway)
            number = version if version is not None else await registry.active_version()
            if number is None:
                return samples, None, ""
            return samples, await registry.config(number), f"version {number}"
        finally:
            await store.close()
    except RegistryError as exc:
        _usage(f"the baseline: {exc}")
    except (OSError, SQLAlchemyError) as exc:
        _usage(f"the database failed: {exc}")


def _replay(
    baseline: ConfigSet, candidate: ConfigSet, items: list[Replayable], *, concurrency: int, timeout_s: float
) -> list[tuple[Reply, Reply]]:
    from envelope.evals.replay_gateways import GatewayFailed, running

    tenants = sorted({item.sample.tenant for item in items})
    try:
        with running(baseline, candidate, tenants, cwd=Path(os.getcwd())) as (base, cand):
            return asyncio.run(_send(items, base, cand, concurrency=concurrency, timeout_s=timeout_s))
    except GatewayFailed as exc:
        err_console.print(f"[red]cannot replay[/red]: {escape(str(exc))}")
        raise typer.Exit(2) from exc


async def _send(
    items: list[Replayable], base: Target, cand: Target, *, concurrency: int, timeout_s: float
) -> list[tuple[Reply, Reply]]:
    from envelope.evals.replay import send

    columns = (TextColumn("replay"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("samples", total=len(items))
        return await send(
            items, base, cand, concurrency=concurrency, timeout_s=timeout_s, on_done=lambda: bar.advance(task)
        )


async def _similarities(replies: list[tuple[Reply, Reply]]) -> list[float | None]:
    """Answer similarities; MiniLM is loaded only when some answers differ."""
    from envelope.evals.replay import needs_encoder, similarities

    if not needs_encoder(replies):
        return await similarities(replies, None)
    from envelope.embeddings.embedder import Embedder
    from envelope.evals.grader import MiniLMEncoder

    embedder = Embedder()
    try:
        return await similarities(replies, MiniLMEncoder(embedder))
    except Exception as exc:  # the shell: any loading failure means similarity cannot be measured
        err_console.print(f"[red]cannot compare the answers[/red]: MiniLM failed: {escape(str(exc))}")
        raise typer.Exit(2) from exc
    finally:
        await embedder.close()


def _gateway(config: Path | None, database: str | None) -> GatewayDoc:
    """The settings of the gateway whose samples are replayed (registry versions are
    validated against them): the config's, or the defaults when only --database is given."""
    if database is not None and config is None:
        from envelope.config.documents import GatewayDoc

        return GatewayDoc()
    return load_config(config).gateway


def _usage(message: str) -> NoReturn:
    err_console.print(f"[red]cannot replay[/red]: {escape(message)}")
    raise typer.Exit(2)


def _print(verdict: Verdict, thresholds: Thresholds) -> None:
    table = Table(
        "route",
        "requests",
        "p95 ms base → cand",
        "cost $ base → cand",
        "errors base → cand",
        "similarity",
        "tiers base → cand",
        "verdict",
        title="replay: baseline → candidate",
    )
    for comparison in verdict.routes:
        table.add_row(*_row(comparison, thresholds))
    table.add_section()
    table.add_row(*_row(verdict.overall, thresholds))
    console.print(table)
    if verdict.passed:
        console.print("[green]no regression[/green]: the candidate is within the limits of the baseline")
        return
    console.print(f"[red bold]REGRESSION[/red bold]: {len(verdict.regressions)} finding(s)")
    for finding in verdict.regressions:
        console.print(f"  - {escape(finding.message)}")


def _row(c: Comparison, thresholds: Thresholds) -> list[str]:
    if c.findings:
        verdict = "[red]REGRESSION[/red] (" + ", ".join(sorted({f.rule for f in c.findings})) + ")"
    elif c.gated:
        verdict = "[green]ok[/green]"
    else:
        verdict = f"[dim]not gated (< {thresholds.min_requests})[/dim]"
    similarity = f"{c.similarity:.3f}" if c.similarity is not None else "–"
    errors = f"{c.baseline.errors} → {c.candidate.errors}"
    tiers = f"{_tiers(c.baseline)} → {_tiers(c.candidate)}"
    p95 = f"{_number(c.baseline.p95_latency_ms, '.0f')} → {_number(c.candidate.p95_latency_ms, '.0f')}"
    cost = f"{_number(c.baseline.mean_cost_usd, '.6f')} → {_number(c.candidate.mean_cost_usd, '.6f')}"
    return [escape(c.scope), str(c.requests), p95, cost, errors, similarity, tiers, verdict]


def _tiers(side: Side) -> str:
    return " ".join(f"{tier} {share:.0%}" for tier, share in side.tiers.items()) or "–"


def _number(value: float | None, spec: str) -> str:
    return format(value, spec) if value is not None else "–"
