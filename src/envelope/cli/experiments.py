"""`envelope experiments`: what experiments left behind — shadow results compared."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from envelope.cli.common import ConfigOption, console, load_config, open_store
from envelope.control.shadow_summary import ShadowSummary, summarize
from envelope.embeddings.embedder import Embedder
from envelope.store.records import ShadowRecord

app = typer.Typer(help="Experiments: shadow traffic compared.", no_args_is_help=True)


@app.command()
def shadow(
    config: ConfigOption = None,
    route: Annotated[str | None, typer.Option(help="Only this route.")] = None,
    hours: Annotated[float, typer.Option(help="Shadow calls of the last HOURS hours.")] = 24.0,
    similarity: Annotated[
        bool, typer.Option(help="Compare the answers' meaning with MiniLM (in process), not only their words.")
    ] = True,
) -> None:
    """Shadow calls against the answers they shadowed: errors, latency, cost, agreement."""
    cfg = load_config(config)

    async def read() -> list[ShadowRecord]:
        async with open_store(cfg) as store:
            return await store.shadows(route, time.time() - hours * 3600)

    records = asyncio.run(read())
    if not records:
        console.print("no shadow results (routes with `shadow:` store them as they answer)")
        raise typer.Exit(0)
    alike = asyncio.run(_similarities(records)) if similarity else [None] * len(records)
    _show(summarize(records, alike))


async def _similarities(records: list[ShadowRecord]) -> list[float | None]:
    embedder = Embedder()
    try:
        await embedder.load()
        texts = [t for r in records for t in (r.primary_text, r.shadow_text)]
        vectors = np.stack([row.vector for row in await embedder.embed(texts)])
    finally:
        await embedder.close()
    return [
        float(np.dot(vectors[2 * i], vectors[2 * i + 1])) if r.status == "ok" else None for i, r in enumerate(records)
    ]


def _show(summaries: list[ShadowSummary]) -> None:
    table = Table(title="Shadow traffic (primary → shadow)")
    for column in ("route", "primary", "shadow", "calls", "errors", "p50 ms", "p95 ms", "cost USD", "same", "similar"):
        table.add_column(column)
    for s in summaries:
        table.add_row(
            s.route,
            ",".join(s.primary_models),
            s.shadow_model,
            str(s.calls),
            str(s.errors),
            f"{s.primary_p50_ms:.0f} → {_ms(s.shadow_p50_ms)}",
            f"{s.primary_p95_ms:.0f} → {_ms(s.shadow_p95_ms)}",
            f"{s.primary_cost_usd:.6f} → {s.shadow_cost_usd:.6f}",
            f"{s.identical}/{s.calls - s.errors}",
            "-" if s.mean_similarity is None else f"{s.mean_similarity:.3f}",
        )
    console.print(table)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"
