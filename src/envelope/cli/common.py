"""What every command shares: the config option and a store opened from it."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from envelope.config import loader
from envelope.config.documents import ConfigSet
from envelope.store import registry as stores
from envelope.store.ports import Store

# Piped output is not wrapped at 80 columns: tables stay one row a line for grep and scripts.
console = Console(width=None if sys.stdout.isatty() else 240)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 240)

T = TypeVar("T")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Config file or directory (default: $ENVELOPE_CONFIG, else the sample config)."
    ),
]


def config_path(path: Path | None) -> Path:
    if path is not None:
        return path
    env = os.environ.get(loader.ENV_CONFIG)
    return Path(env) if env else loader.sample_config_path()


def load_config(path: Path | None) -> ConfigSet:
    try:
        return loader.load(config_path(path))
    except loader.ConfigError as exc:
        err_console.print("[red]invalid config[/red]")
        print(exc, file=sys.stderr)  # plain: field paths like models[0] are not markup
        raise typer.Exit(2) from exc


@asynccontextmanager
async def open_store(config: ConfigSet) -> AsyncIterator[Store]:
    store = stores.build(config.gateway.database_url)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def quiet_migrations() -> None:
    """Opening a store logs each migration check at INFO; a report's output is its table."""
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        logging.getLogger("alembic").setLevel(logging.WARNING)


def read_ledger(work: Coroutine[Any, Any, T], doing: str) -> T:
    """Run `work`, a read of the ledger; exit 1 with the reason when its database fails."""
    from sqlalchemy.exc import SQLAlchemyError

    quiet_migrations()
    try:
        return asyncio.run(work)
    except (OSError, SQLAlchemyError) as exc:
        err_console.print(f"[red]cannot {doing}[/red]: the ledger's database failed: {escape(str(exc))}")
        raise typer.Exit(1) from exc
