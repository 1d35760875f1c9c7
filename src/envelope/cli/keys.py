"""`envelope keys create|list|revoke`."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import typer
from rich.table import Table

from envelope import keys
from envelope.cli.common import ConfigOption, console, err_console, load_config, open_store
from envelope.errors import EnvelopeError

app = typer.Typer(help="Virtual API keys: create (shown once, stored hashed), list, revoke.", no_args_is_help=True)


@app.command()
def create(
    tenant: Annotated[str, typer.Option(help="Tenant the key belongs to (must be in the config).")],
    route: Annotated[str | None, typer.Option(help="Bind the key to this route.")] = None,
    feature: Annotated[str | None, typer.Option(help="Default feature tag for the key's requests.")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="An admin key: may call /admin/*.")] = False,
    name: Annotated[str | None, typer.Option(help="A label for listings.")] = None,
    config: ConfigOption = None,
) -> None:
    """Create a key and print its secret (the only time it is shown)."""
    cfg = load_config(config)

    async def go() -> tuple[keys.KeyRecord, str]:
        async with open_store(cfg) as store:
            return await keys.issue(
                store, cfg, tenant=tenant, role="admin" if admin else "tenant", route=route, feature=feature, name=name
            )

    try:
        record, secret = asyncio.run(go())
    except EnvelopeError as exc:
        err_console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from exc
    err_console.print(f"created {record.role} key [bold]{record.id}[/bold] for tenant {record.tenant}")
    print(secret)


@app.command("list")
def list_(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None,
    config: ConfigOption = None,
) -> None:
    """List keys (never their secrets)."""
    cfg = load_config(config)

    async def go() -> list[keys.KeyRecord]:
        async with open_store(cfg) as store:
            return await store.list_keys(tenant)

    table = Table("id", "tenant", "role", "route", "feature", "name", "created", "status")
    for r in asyncio.run(go()):
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created_at))
        status = "active" if r.active else "revoked"
        table.add_row(r.id, r.tenant, r.role, r.route or "-", r.feature or "-", r.name or "-", created, status)
    console.print(table)


@app.command()
def revoke(key_id: Annotated[str, typer.Argument(help="The key's id (key_...).")], config: ConfigOption = None) -> None:
    """Revoke a key; gateways stop accepting it within key_cache_ttl_s."""
    cfg = load_config(config)

    async def go() -> bool:
        async with open_store(cfg) as store:
            return await store.revoke(key_id, time.time())

    if not asyncio.run(go()):
        err_console.print(f"[red]no active key {key_id}[/red]")
        raise typer.Exit(1)
    err_console.print(f"revoked {key_id}")
