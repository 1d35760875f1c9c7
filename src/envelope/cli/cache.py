"""`envelope cache purge | event`: drop cached answers through a running gateway's admin
API (the cache and its semantic index may live in that process's memory, so the
gateway itself must do it)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Annotated, Any

import typer

from envelope.cli.common import ConfigOption, console, err_console, load_config

app = typer.Typer(help="The answer cache.", no_args_is_help=True)

UrlOption = Annotated[str | None, typer.Option(help="The gateway, e.g. http://127.0.0.1:8080 (default: from config).")]
AdminKeyOption = Annotated[str, typer.Option(envvar="ENVELOPE_ADMIN_KEY", help="An admin key.")]


@app.command()
def purge(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's answers.")] = None,
    route: Annotated[str | None, typer.Option(help="Only this route's answers.")] = None,
    url: UrlOption = None,
    admin_key: AdminKeyOption = "",
    config: ConfigOption = None,
) -> None:
    """Drop every cached answer, or a tenant's, a route's, or a tenant's on a route."""
    answer = _post(url, config, admin_key, "/admin/cache/purge", {"tenant": tenant, "route": route})
    scope = " ".join(f"{name} {value}" for name, value in (("of tenant", tenant), ("on route", route)) if value)
    console.print(f"purged {answer['purged']} cached answers" + (f" {scope}" if scope else ""))


@app.command()
def event(
    name: Annotated[str, typer.Argument(help="The event, e.g. kb:handbook or price-list.")],
    url: UrlOption = None,
    admin_key: AdminKeyOption = "",
    config: ConfigOption = None,
) -> None:
    """Tell the gateway an event happened: routes with it in `cache.invalidate_on` drop their answers."""
    answer = _post(url, config, admin_key, "/admin/cache/events", {"event": name})
    routes = ", ".join(answer["routes"]) or "no route"
    console.print(f"{name}: purged {answer['purged']} cached answers ({routes})")


def _post(url: str | None, config: Any, admin_key: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    if url is None:
        gw = load_config(config).gateway
        url = f"http://{gw.host}:{gw.port}"
    request = urllib.request.Request(
        f"{url.rstrip('/')}{path}",
        data=json.dumps(body).encode(),
        headers={"authorization": f"Bearer {admin_key}", "content-type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            document: dict[str, Any] = json.loads(answer.read())
            return document
    except urllib.error.HTTPError as exc:
        err_console.print(f"[red]{exc.code}[/red]: {exc.read().decode(errors='replace')}")
        raise typer.Exit(1) from exc
    except urllib.error.URLError as exc:
        err_console.print(f"[red]cannot reach {url}[/red]: {exc.reason}")
        raise typer.Exit(1) from exc


@app.command()
def evaluate(
    threshold: Annotated[
        float | None, typer.Option(help="Similarity threshold (default: tuned on the dev split).")
    ] = None,
    max_false_hit_rate: Annotated[
        float, typer.Option(help="Tuning: the highest false-hit rate allowed on dev (with the guard).")
    ] = 0.01,
    split: Annotated[str, typer.Option(help="Pairs measured: test, dev or all.")] = "test",
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Hit rate and false-hit rate of the semantic cache on the shipped labelled pairs, with
    and without the guard (MiniLM embeddings, in process)."""
    import asyncio
    import dataclasses

    from rich.table import Table

    from envelope.cache import evaluation
    from envelope.embeddings.embedder import Embedder

    if split not in ("test", "dev", "all"):
        err_console.print("[red]--split must be test, dev or all[/red]")
        raise typer.Exit(2)

    async def similarities(pairs: list[evaluation.Pair]) -> list[float]:
        embedder = Embedder()
        try:
            return await evaluation.similarities(pairs, embedder)
        finally:
            await embedder.close()

    pairs = evaluation.load()
    sims = asyncio.run(similarities(pairs))
    dev = [(p, s) for p, s in zip(pairs, sims, strict=True) if p.split == "dev"]
    if threshold is None:
        threshold = evaluation.tune(
            [p for p, _ in dev], [s for _, s in dev], guard=True, max_false_hit_rate=max_false_hit_rate
        )
    chosen = [(p, s) for p, s in zip(pairs, sims, strict=True) if split == "all" or p.split == split]
    reports = [
        evaluation.report([p for p, _ in chosen], [s for _, s in chosen], threshold=threshold, guard=guard)
        for guard in (True, False)
    ]
    if as_json:
        print(json.dumps({"split": split, "reports": [dataclasses.asdict(r) for r in reports]}, indent=2))
        return
    guarded, bare = reports
    table = Table(
        "kind", "pairs", "served, with guard", "served, similarity only",
        title=f"semantic cache on the {split} pairs, threshold {threshold:.3f}",
    )  # fmt: skip
    for with_guard, without in zip(guarded.kinds, bare.kinds, strict=True):
        table.add_row(with_guard.kind, str(with_guard.pairs), f"{with_guard.rate:.1%}", f"{without.rate:.1%}")
    table.add_row("hit rate (same)", "", f"{guarded.hit_rate:.1%}", f"{bare.hit_rate:.1%}")
    table.add_row("false-hit rate (different)", "", f"{guarded.false_hit_rate:.1%}", f"{bare.false_hit_rate:.1%}")
    console.print(table)
