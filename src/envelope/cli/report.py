"""`envelope report cost | chargeback | forecast`: the request ledger, summed, billed
under the chargeback plans, and projected against tenants' budgets."""

from __future__ import annotations

import asyncio
import csv
import json
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Literal, NoReturn, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from envelope.cli.common import ConfigOption, console, err_console, load_config, open_store, read_ledger

if TYPE_CHECKING:
    from envelope.config.documents import ConfigSet, TenantDoc
    from envelope.cost.chargeback import Charge
    from envelope.cost.forecast import Forecast
    from envelope.cost.period import Span
    from envelope.ledger.rollup import Totals

app = typer.Typer(help="Reports from the request ledger.", no_args_is_help=True)

GroupBy = Literal["tenant", "route", "feature", "model"]
BillBy = Literal["tenant", "route", "feature"]
T = TypeVar("T")


@app.command()
def cost(
    by: Annotated[GroupBy, typer.Option(help="Group by tenant, route, feature or model.")] = "tenant",
    since_hours: Annotated[float | None, typer.Option(help="Only the last N hours.")] = None,
    config: ConfigOption = None,
) -> None:
    """Requests, tokens and cost per group, most expensive first."""
    cfg = load_config(config)
    since = time.time() - since_hours * 3600 if since_hours is not None else None

    async def go() -> list[Totals]:
        async with open_store(cfg) as store:
            return await store.rollup([by], since=since)

    lines = sorted(asyncio.run(go()), key=lambda line: (-line.cost_usd, _label(line)))
    table = Table(by, "requests", "errors", "input tokens", "output tokens", "cost (USD)", "mean latency (ms)")
    for line in lines:
        table.add_row(
            _label(line),
            str(line.requests),
            str(line.errors),
            str(line.input_tokens),
            str(line.output_tokens),
            f"{line.cost_usd:.6f}",
            f"{line.mean(line.latency_ms):.1f}",
        )
    total = sum(line.cost_usd for line in lines)
    table.add_section()
    table.add_row(
        "total", str(sum(x.requests for x in lines)), str(sum(x.errors for x in lines)), "", "", f"{total:.6f}", ""
    )
    console.print(table)


@app.command()
def chargeback(
    by: Annotated[BillBy, typer.Option(help="Bill per tenant, route or feature.")] = "tenant",
    period: Annotated[str | None, typer.Option(help="A month (2026-11) or a day (2026-11-05), UTC.")] = None,
    since: Annotated[str | None, typer.Option(help="From this ISO 8601 time (default: the month's start).")] = None,
    until: Annotated[str | None, typer.Option(help="Until this ISO 8601 time, excluded (default: now).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV (one line per group, no total).")] = False,
    config: ConfigOption = None,
) -> None:
    """What each group is billed for a period under its chargeback plan.

    Per group: requests, tokens, the provider cost from the ledger, the amount charged
    and the plan (gateway.chargeback; groups without one are billed at cost).
    Charges are rounded half up, once per line, to the plans' precision (cents unless
    `precision: micros`); tiered volumes count from the period's start; monthly minimums
    apply pro rata to the calendar months the period covers. Exit 2 on a bad period, 1 when
    the ledger's database fails."""
    from envelope.cost.chargeback import statement
    from envelope.cost.period import PeriodError, month_fraction, span_of

    if as_json and as_csv:
        _usage("give --json or --csv, not both")
    cfg = load_config(config)
    try:
        span = span_of(period=period, since=since, until=until, now=time.time())
    except PeriodError as exc:
        _usage(str(exc))
    lines = read_ledger(_rollup(cfg, [by, "tier"], span), "report")
    charges = statement(cfg.gateway.chargeback, by, lines, months=month_fraction(span))
    if as_json:
        _print_json(charges, by, span, cfg.gateway.chargeback.precision)
    elif as_csv:
        _print_csv(charges)
    else:
        _print_statement(charges, by, span)


@app.command()
def forecast(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant (default: every tenant with a budget).")] = None,
    at: Annotated[str | None, typer.Option(help="Forecast as of this ISO 8601 time (default: now).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
) -> None:
    """Spend against each tenant's budget: so far, run-rate, projected, status.

    For each tenant with a budget: the spend so far in its budget period, its run-rate,
    the spend projected at the period's end, when the hard limit would be reached, and a
    status: ok, at_risk (projected to reach it) or over. The run-rate is a
    recency-weighted least-squares line through recent time buckets (README: "Cost").
    Exit 2 on an unknown tenant or a bad --at, 1 when the ledger's database fails."""
    from envelope.cost.period import PeriodError, parse_instant

    cfg = load_config(config)
    try:
        now = parse_instant(at) if at is not None else time.time()
    except PeriodError as exc:
        _usage(str(exc))
    tenants = _budgeted(cfg, tenant)
    forecasts = read_ledger(_forecasts(cfg, tenants, now), "report")
    if as_json:
        print(json.dumps([_forecast_row(name, f) for name, f in forecasts.items()], indent=2))
        return
    _print_forecasts(forecasts)


def _usage(message: str) -> NoReturn:
    err_console.print(f"[red]cannot report[/red]: {escape(message)}")
    raise typer.Exit(2)


async def _rollup(cfg: ConfigSet, by: list[BillBy | Literal["tier"]], span: Span) -> list[Totals]:
    async with open_store(cfg) as store:
        return await store.rollup(by, since=span.since, until=span.until)


def _money(value: object) -> str:
    return f"{value:,.2f}" if value is not None else "-"


def _print_statement(charges: list[Charge], by: str, span: Span) -> None:
    from envelope.cost.chargeback import totals

    table = Table(by, "requests", "tokens", "provider cost $", "charged $", "plan", title=f"Chargeback {span.label()}")
    total = totals(charges)
    for c in charges:
        _statement_row(table, c)
    table.add_section()
    _statement_row(table, total)
    console.print(table)


def _statement_row(table: Table, c: Charge) -> None:
    table.add_row(
        escape(c.group),
        f"{c.requests:,}",
        f"{c.tokens:,}",
        f"{c.provider_cost_usd:,.6f}",
        f"{c.charged_usd:,}",
        escape(c.plan),
    )


def _print_json(charges: list[Charge], by: str, span: Span, precision: str) -> None:
    from envelope.cost.chargeback import row, totals

    body = {
        "by": by,
        "since": _iso(span.since),
        "until": _iso(span.until),
        "precision": precision,
        "lines": [row(c) for c in charges],
        "total": row(totals(charges)),
    }
    print(json.dumps(body, indent=2))


def _print_csv(charges: list[Charge]) -> None:
    from envelope.cost.chargeback import row

    rows = [row(c) for c in charges]
    fields = list(rows[0]) if rows else ["group"]
    writer = csv.DictWriter(sys.stdout, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


def _budgeted(cfg: ConfigSet, name: str | None) -> list[TenantDoc]:
    if name is None:
        return [t for t in cfg.tenants if t.budget is not None]
    found = next((t for t in cfg.tenants if t.name == name), None)
    if found is None:
        _usage(f"unknown tenant {name!r}; the config has {', '.join(t.name for t in cfg.tenants) or 'none'}")
    if found.budget is None:
        _usage(f"tenant {name!r} has no budget to forecast against")
    return [found]


async def _forecasts(cfg: ConfigSet, tenants: list[TenantDoc], now: float) -> dict[str, Forecast]:
    from envelope.cost.budgets import tenant_forecasts

    async with open_store(cfg) as store:
        return await tenant_forecasts(store, tenants, now)


def _forecast_row(tenant: str, f: Forecast) -> dict[str, object]:
    return {
        "tenant": tenant,
        "period_start": _iso(f.period_start),
        "period_end": _iso(f.period_end),
        "now": _iso(f.now),
        "spent_usd": round(f.spent_usd, 6),
        "hard_usd": f.hard_usd,
        "soft_usd": f.soft_usd,
        "rate_usd_per_hour": round(f.per_hour, 6),
        "rate_usd_per_day": round(f.per_day, 6),
        "trend_usd_per_day_per_day": round(f.rate.slope * 86400 * 86400, 6),
        "buckets": f.rate.buckets,
        "projected_usd": round(f.projected_usd, 6),
        "exhausted_at": _iso(f.exhausted_at) if f.exhausted_at is not None else None,
        "soft_at": _iso(f.soft_at) if f.soft_at is not None else None,
        "status": f.status,
    }


def _print_forecasts(forecasts: dict[str, Forecast]) -> None:
    colour = {"ok": "green", "at_risk": "yellow", "over": "red"}
    table = Table(
        "tenant", "period", "spent $", "hard $", "soft $", "$/hour", "$/day", "projected $", "hard reached", "status"
    )
    for name, f in forecasts.items():
        table.add_row(
            escape(name),
            f"{_iso(f.period_start)[:16]} → {_iso(f.period_end)[:16]}",
            _money(f.spent_usd),
            _money(f.hard_usd),
            _money(f.soft_usd),
            f"{f.per_hour:,.4f}",
            _money(f.per_day),
            _money(f.projected_usd),
            _iso(f.exhausted_at)[:16] if f.exhausted_at is not None else "-",
            f"[{colour[f.status]}]{f.status}[/{colour[f.status]}]",
        )
    if not forecasts:
        err_console.print("no tenant has a budget")
    console.print(table)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _label(line: Totals) -> str:
    """The group's name; `-` for rows without one."""
    return line.group[0] or "-"
