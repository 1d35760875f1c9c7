"""`envelope eval`: golden sets through a running gateway, scored, and gated against a baseline."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from envelope.cli.common import console, err_console

if TYPE_CHECKING:
    from envelope.evals.client import Completer
    from envelope.evals.gate import Verdict
    from envelope.evals.golden import GoldenItem
    from envelope.evals.grader import Grader
    from envelope.evals.results import ItemResult, RunReport, Summary
    from envelope.evals.runner import RunOptions

DEFAULT_BASE_URL = "http://127.0.0.1:8080/v1"
_SHOWN_FAILURES = 25


def evaluate(
    golden: Annotated[list[Path], typer.Argument(help="Golden files or directories (*.yaml, *.yml, *.jsonl).")],
    base_url: Annotated[
        str, typer.Option(envvar="ENVELOPE_BASE_URL", help="The gateway's OpenAI base URL.")
    ] = DEFAULT_BASE_URL,
    api_key: Annotated[str | None, typer.Option(envvar="ENVELOPE_API_KEY", help="A gateway API key.")] = None,
    route: Annotated[str | None, typer.Option(help="Route for items that name none (x-envelope-route).")] = None,
    model: Annotated[str, typer.Option(help="Model for items that name none.")] = "auto",
    temperature: Annotated[
        float | None, typer.Option(min=0.0, max=2.0, help="Temperature for items that set none (0: repeatable).")
    ] = None,
    judge_model: Annotated[str, typer.Option(help="Model the judge checks ask.")] = "auto",
    judge_route: Annotated[str | None, typer.Option(help="Route for the judge's requests.")] = None,
    baseline: Annotated[Path | None, typer.Option(help="Results of an earlier run to gate against.")] = None,
    save_baseline: Annotated[
        Path | None, typer.Option(help="Write this run here as the new baseline (only when the gate passes).")
    ] = None,
    max_drop: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Largest allowed drop of a pass rate or mean score.")
    ] = 0.05,
    min_pass_rate: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Fail below this overall pass rate.")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Items in flight at once.")] = 4,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds per request.")] = 120.0,
    cache: Annotated[bool, typer.Option("--cache/--no-cache", help="Let the gateway answer from its cache.")] = False,
    output: Annotated[Path | None, typer.Option(help="Write the full results (JSON) here.")] = None,
) -> None:
    """Send golden sets through a running gateway, score the answers, gate on regressions.

    Each item goes to BASE_URL/chat/completions with the API key, with
    x-envelope-route when the item or --route names one, and with
    x-envelope-cache-control: no-store unless --cache. An item passes when
    every check passes (exact, contains, regex, json_schema, similar_to,
    grounded, judge); a failed request fails the item.

    Exit 1 (regression), against --baseline, when
    - an intent's pass rate dropped by more than --max-drop (0.05 = 5 points),
    - an intent's mean score of a scorer dropped by more than --max-drop, or
    - an item that passed in the baseline fails now;
    and, baseline or not, when the overall pass rate is below --min-pass-rate.
    Exit 0 otherwise. Exit 2: usage errors, bad golden or baseline files, an
    unreachable gateway or a refused key. --save-baseline writes the run only
    when the gate passes.
    """
    from envelope.evals import gate, results
    from envelope.evals import golden as golden_sets
    from envelope.evals.runner import RunOptions

    if not api_key:
        err_console.print("[red]no API key[/red]: give --api-key or set ENVELOPE_API_KEY")
        raise typer.Exit(2)
    try:
        items = golden_sets.load(golden)
    except golden_sets.GoldenError as exc:
        err_console.print("[red]invalid golden set[/red]")
        print(exc, file=sys.stderr)  # plain: paths and [0] indexes are not markup
        raise typer.Exit(2) from exc
    before = None
    if baseline is not None:
        try:
            before = results.load(baseline)
        except results.ReportError as exc:
            err_console.print(f"[red]invalid baseline[/red]: {escape(str(exc))}")
            raise typer.Exit(2) from exc
    options = RunOptions(model=model, route=route, temperature=temperature, concurrency=concurrency)
    done = asyncio.run(
        _run(
            items,
            options,
            base_url=base_url,
            api_key=api_key,
            judge_model=judge_model,
            judge_route=judge_route,
            timeout_s=timeout,
            use_cache=cache,
        )
    )
    created = datetime.now(UTC).isoformat(timespec="seconds")
    run = results.report(done, created=created, base_url=base_url, golden=[str(p) for p in golden])
    verdict = gate.decide(run, before, gate.GateRule(max_drop=max_drop, min_pass_rate=min_pass_rate))
    _print(run, before, verdict)
    if output is not None:
        results.save(run, output)
        err_console.print(f"results written to {escape(str(output))}")
    if save_baseline is not None:
        if verdict.passed:
            results.save(run, save_baseline)
            err_console.print(f"baseline saved to {escape(str(save_baseline))}")
        else:
            err_console.print(f"[yellow]baseline not saved[/yellow] to {escape(str(save_baseline))}: the gate failed")
    raise typer.Exit(0 if verdict.passed else 1)


async def _run(
    items: list[GoldenItem],
    options: RunOptions,
    *,
    base_url: str,
    api_key: str,
    judge_model: str,
    judge_route: str | None,
    timeout_s: float,
    use_cache: bool,
) -> list[ItemResult]:
    from envelope.evals.client import GatewayClient
    from envelope.evals.grader import Grader, MiniLMEncoder, needs_encoder
    from envelope.evals.judge import Judge

    async with GatewayClient.open(
        base_url, api_key, timeout_s=timeout_s, concurrency=options.concurrency, use_cache=use_cache
    ) as client:
        problem = await client.problem()
        if problem is not None:
            err_console.print(f"[red]cannot evaluate[/red]: {escape(problem)}")
            raise typer.Exit(2)
        judge = Judge(client, model=judge_model, route=judge_route)
        if not needs_encoder([check for item in items for check in item.checks]):
            return await _with_progress(items, client, Grader(encoder=None, judge=judge), options)
        from envelope.embeddings.embedder import Embedder

        embedder = Embedder()
        try:
            await embedder.load()
        except Exception as exc:  # the shell: any loading failure means the checks cannot run
            err_console.print(f"[red]cannot load the embedding model[/red]: {escape(str(exc))}")
            await embedder.close()
            raise typer.Exit(2) from exc
        try:
            grader = Grader(encoder=MiniLMEncoder(embedder), judge=judge)
            return await _with_progress(items, client, grader, options)
        finally:
            await embedder.close()


async def _with_progress(
    items: list[GoldenItem], completer: Completer, grader: Grader, options: RunOptions
) -> list[ItemResult]:
    from envelope.evals import runner

    with Progress(TextColumn("eval"), BarColumn(), MofNCompleteColumn(), console=err_console, transient=True) as bar:
        task = bar.add_task("items", total=len(items))
        return await runner.run(items, completer, grader, options=options, on_done=lambda _: bar.advance(task))


def _print(run: RunReport, before: RunReport | None, verdict: Verdict) -> None:
    scorers = sorted(run.overall.scorers)
    table = Table(
        "intent",
        "items",
        "pass rate",
        "vs baseline",
        "score",
        *scorers,
        "p95 ms",
        "mean cost $",
        title="golden sets" + ("" if before is None else f" (baseline {before.created})"),
    )
    flagged = {f.intent for f in verdict.regressions if f.kind in ("pass_rate", "score")}
    for name, summary in run.intents.items():
        old = before.intents.get(name) if before is not None else None
        table.add_row(*_row(name, summary, old, scorers, before is not None, name in flagged))
    table.add_section()
    old_all = before.overall if before is not None else None
    table.add_row(*_row("all", run.overall, old_all, scorers, before is not None, False))
    console.print(table)
    failed = [r for r in run.items if not r.passed]
    if failed:
        shown = Table("failed item", "intent", "why", title=f"{len(failed)} failed item(s)")
        for result in failed[:_SHOWN_FAILURES]:
            shown.add_row(escape(result.id), result.intent, escape(result.problem))
        console.print(shown)
        if len(failed) > _SHOWN_FAILURES:
            console.print(f"… and {len(failed) - _SHOWN_FAILURES} more (see --output)")
    for note in verdict.notes:
        console.print(f"note: {escape(note)}")
    if not verdict.passed:
        console.print(f"[red bold]REGRESSION[/red bold]: {len(verdict.regressions)} finding(s)")
        for finding in verdict.regressions:
            console.print(f"  - {escape(finding.message)}")
    elif before is not None:
        console.print("[green]no regression[/green] against the baseline")
    else:
        console.print("no baseline: report only")


def _row(
    name: str, now: Summary, old: Summary | None, scorers: list[str], has_baseline: bool, flagged: bool
) -> list[str]:
    if not has_baseline:
        versus = ""
    elif old is None:
        versus = "new"
    else:
        points = (now.pass_rate - old.pass_rate) * 100
        versus = f"{points:+.1f} pp"
        versus = f"[red]{versus}[/red]" if flagged else versus
    cells = [f"{now.scorers[s]:.3f}" if s in now.scorers else "–" for s in scorers]
    p95 = f"{now.p95_latency_ms:.0f}" if now.p95_latency_ms is not None else "–"
    cost = f"{now.mean_cost_usd:.6f}" if now.mean_cost_usd is not None else "–"
    rate = f"{now.pass_rate:.1%} ({now.passed}/{now.items})"
    return [name, str(now.items), rate, versus, f"{now.score:.3f}", *cells, p95, cost]
