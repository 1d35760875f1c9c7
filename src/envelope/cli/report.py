"""`envelope report cost --by tenant|route|feature|model`."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import typer
from rich.table import Table

from envelope.cli.common import ConfigOption, console, load_config, open_store
from envelope.store.ports import CostLine, GroupBy

app = typer.Typer(help="Reports from the request ledger.", no_args_is_help=True)


@app.command()
def cost(
    by: Annotated[GroupBy, typer.Option(help="Group by tenant, route, feature or model.")] = "tenant",
    since_hours: Annotated[float | None, typer.Option(help="Only the last N hours.")] = None,
    config: ConfigOption = None,
) -> None:
    """Requests, tokens and cost per group, most expensive first."""
    cfg = load_config(config)
    since = time.time() - since_hours * 3600 if since_hours is not None else None

    async def go() -> list[CostLine]:
        async with open_store(cfg) as store:
            return await store.summarize(by, since)

    lines = asyncio.run(go())
    table = Table(by, "requests", "errors", "input tokens", "output tokens", "cost (USD)", "mean latency (ms)")
    for line in lines:
        table.add_row(
            line.group,
            str(line.requests),
            str(line.errors),
            str(line.input_tokens),
            str(line.output_tokens),
            f"{line.cost_usd:.6f}",
            f"{line.mean_latency_ms:.1f}",
        )
    total = sum(line.cost_usd for line in lines)
    table.add_section()
    table.add_row(
        "total", str(sum(x.requests for x in lines)), str(sum(x.errors for x in lines)), "", "", f"{total:.6f}", ""
    )
    console.print(table)
