"""`envelope diff | apply | history | rollback | flags`: the policy registry from the shell.

The registry lives in the database of the config's `gateway.database_url` (or
`--database URL`). Exit codes, shared by these commands:

    0  done (diff: no differences; apply: applied, or nothing to apply)
    1  diff: there are differences; rollback: nothing to roll back to; flags: nothing active
    2  invalid input: a config or version that fails validation (never activated), an
       unknown version
    3  another activation landed meanwhile (rollback): look at `envelope history`, retry
    4  the database could not be reached or refused the operation
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError

from envelope.cli.common import ConfigOption, console, err_console, load_config
from envelope.config.documents import GatewayDoc
from envelope.registry.diff import Change, lines
from envelope.registry.registry import (
    ActivatedMeanwhile,
    InvalidVersion,
    NoSuchVersion,
    NothingToRollBack,
    Registry,
    RegistryError,
)
from envelope.store import registry as stores

T = TypeVar("T")
EXIT_CODES = (
    "Exit codes: 0 done · 1 differences (diff), nothing to roll back to, nothing active · "
    "2 invalid config or version, unknown version · 3 another activation landed meanwhile · "
    "4 database unreachable."
)
_STYLES = {"added": "green", "removed": "red", "changed": "yellow"}

DatabaseOption = Annotated[
    str | None,
    typer.Option("--database", help="The registry's database URL (default: the config's gateway.database_url)."),
]
ActorOption = Annotated[
    str | None, typer.Option("--actor", help="Who does this, for the audit log (default: $ENVELOPE_ACTOR, user@host).")
]


def diff(
    path: Annotated[Path, typer.Argument(help="Config file or directory.")],
    database: DatabaseOption = None,
) -> None:
    """Show what applying the config at PATH would change against the active version.

    Exit 0 when identical, 1 when different (like diff), 2 when the config is invalid.
    """
    cfg = load_config(path)

    async def go(registry: Registry) -> list[Change]:
        return await registry.diff(cfg)

    changes = _run(cfg.gateway, database, go)
    if not changes:
        console.print("no differences: the config is the active version")
        return
    _print_changes(changes)
    raise typer.Exit(1)


def apply(
    path: Annotated[Path, typer.Argument(help="Config file or directory.")],
    message: Annotated[str, typer.Option("--message", "-m", help="Why, for the history.")] = "",
    actor: ActorOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate and show the diff; store nothing.")] = False,
    database: DatabaseOption = None,
) -> None:
    """Validate the config at PATH, show the diff, store it and activate it atomically.

    An invalid config prints every problem and exits 2: it is never stored as active.
    Running gateways pick up the new version without restart.
    """
    cfg = load_config(path)

    async def go(registry: Registry) -> tuple[list[Change], int | None, int | None]:
        changes = await registry.diff(cfg)
        before = await registry.active_version()
        if dry_run or (not changes and before is not None):
            return changes, before, None
        entry = await registry.apply(cfg, actor, message)
        return changes, before, None if entry is None else entry.to_version

    changes, before, after = _run(cfg.gateway, database, go)
    if not changes and before is not None:
        console.print(f"nothing to apply: the config is version {before}, already active")
        return
    _print_changes(changes)
    if dry_run:
        console.print("[cyan]dry run[/cyan]: nothing stored")
    elif after is None:
        console.print(f"nothing to apply: the config is version {before}, already active")
    else:
        console.print(f"[green]activated version {after}[/green]" + (f" (was {before})" if before is not None else ""))


def history(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Most entries shown, newest first.")] = 20,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """The audit log: every activation, newest first (when, who, action, from → to, what changed)."""
    gateway = _gateway(config, database)
    entries = _run(gateway, database, lambda registry: registry.history(limit))
    table = Table("when", "who", "action", "from → to", "what changed", "reason")
    for e in entries:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.ts))
        moved = f"{e.from_version if e.from_version is not None else '-'} → {e.to_version}"
        table.add_row(when, e.actor, e.action, moved, Text(e.summary), Text(e.reason or ""))
    console.print(table)


def rollback(
    version: Annotated[int | None, typer.Argument(help="Version to go back to (default: the last-known-good).")] = None,
    actor: ActorOption = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why, for the audit log.")] = None,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Go back to VERSION or the last-known-good; the version left is marked bad.

    The last-known-good is the most recently active version before the current one that is
    not marked bad. Pointer, statuses and audit row change in one transaction.
    """
    gateway = _gateway(config, database)

    async def go(registry: Registry) -> tuple[int | None, int, list[Change]]:
        entry = await registry.rollback(version, actor, reason)
        return entry.from_version, entry.to_version, await registry.changes(entry.from_version, entry.to_version)

    before, after, changes = _run(gateway, database, go)
    _print_changes(changes)
    console.print(f"[green]rolled back to version {after}[/green] (version {before} marked bad)")


def flags(config: ConfigOption = None, database: DatabaseOption = None) -> None:
    """The active version's feature flags: on or off now, and since when they are on."""
    gateway = _gateway(config, database)

    async def go(registry: Registry) -> tuple[int | None, list[list[str]]]:
        number = await registry.active_version()
        states = await registry.flags() if number is not None else []
        return number, [
            [
                s.flag.name,
                s.state,
                ", ".join(s.flag.tenants) if s.flag.tenants is not None else "all",
                _when(s.on_since),
                _when(s.flag.deactivate_at),
                s.flag.description or "",
            ]
            for s in states
        ]

    number, rows = _run(gateway, database, go)
    if number is None:
        err_console.print("[red]no version is active[/red]: `envelope apply PATH` first")
        raise typer.Exit(1)
    table = Table("flag", "now", "tenants", "on since", "off from", "description", title=f"version {number}")
    for row in rows:
        table.add_row(*[Text(cell) for cell in row])
    console.print(table)


# --- shared ---


def _gateway(config: Path | None, database: str | None) -> GatewayDoc:
    """The process settings versions are validated against: the config's, or the defaults
    when only --database is given."""
    if database is not None and config is None:
        return GatewayDoc()
    return load_config(config).gateway


@asynccontextmanager
async def _registry(gateway: GatewayDoc, database: str | None) -> AsyncIterator[Registry]:
    store = stores.build(database or gateway.database_url)
    await store.open()
    try:
        yield Registry(store, gateway=gateway)
    finally:
        await store.close()


def _run(gateway: GatewayDoc, database: str | None, work: Callable[[Registry], Awaitable[T]]) -> T:
    """Run `work` against the registry; a refusal becomes its message and exit code."""

    async def go() -> T:
        async with _registry(gateway, database) as registry:
            return await work(registry)

    try:
        return asyncio.run(go())
    except InvalidVersion as exc:
        err_console.print(f"[red]version {exc.number} is not a valid config; not activated[/red]")
        print("\n".join(exc.problems), file=sys.stderr)  # plain: field paths like models[0] are not markup
        raise typer.Exit(2) from exc
    except NothingToRollBack as exc:
        _fail(str(exc), 1, exc)
    except ActivatedMeanwhile as exc:
        _fail(str(exc), 3, exc)
    except (NoSuchVersion, RegistryError) as exc:
        _fail(str(exc), 2, exc)
    except (OSError, SQLAlchemyError) as exc:
        _fail(f"the registry's database failed: {exc}", 4, exc)


def _fail(message: str, code: int, exc: Exception) -> NoReturn:
    err_console.print(Text(message, style="red"))
    raise typer.Exit(code) from exc


def _print_changes(changes: list[Change]) -> None:
    for line in lines(changes):
        console.print(Text(line.text, style=_STYLES[line.op]))


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at is not None else "-"
