"""Schema migrations for the SQL store (Alembic, driven from code, no command line).

`SQLStore.open()` calls `upgrade_engine` on every start; it is a no-op when the schema
is current. Several processes may start at once: on PostgreSQL the upgrade runs in one
transaction under an advisory lock (per schema), on SQLite under `BEGIN IMMEDIATE`
(SQLite's write lock), so the second process waits, then finds the schema current.
Within one process, upgrades also take turns: Alembic keeps the running migration in
module globals (`alembic.context`, `alembic.op`), which two interleaved upgrades
would clobber even against different databases.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

import envelope.migrations

MIGRATIONS = Path(envelope.migrations.__file__).parent
BASELINE = "0001"
_LOCK_CLASS = 0x656E76  # "env": first key of the advisory lock; the second is the schema
# One lock per event loop, made on first use: the guard Alembic's globals need (see above).
_TURNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


def alembic_config(url: str | None = None) -> Config:
    """Alembic's config for Envelope's migrations (for `alembic.command.*`)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade(url: str, *, revision: str = "head", connect_args: Mapping[str, Any] | None = None) -> None:
    """Bring the database at `url` (an async SQLAlchemy URL) up to `revision`."""
    engine = create_async_engine(url, connect_args=dict(connect_args or {}))
    try:
        await upgrade_engine(engine, revision=revision)
    finally:
        await engine.dispose()


async def upgrade_engine(engine: AsyncEngine, *, revision: str = "head") -> None:
    """Upgrade through `engine` in one transaction, one process at a time."""
    turn = _TURNS.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    async with turn, engine.connect() as conn:
        await _lock(conn)
        await conn.run_sync(_upgrade, revision)
        await conn.commit()


async def current(engine: AsyncEngine) -> str | None:
    """The revision the database is at; None before the first migration."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def _lock(conn: AsyncConnection) -> None:
    if conn.dialect.name == "postgresql":
        # Released at commit or rollback. Keyed by schema: separate schemas need not wait.
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(:cls, hashtext(coalesce(current_schema(), '')))"),
            {"cls": _LOCK_CLASS},
        )
    elif conn.dialect.name == "sqlite":
        # The Python driver does not open a transaction before DDL; take the write lock now.
        await conn.exec_driver_sql("BEGIN IMMEDIATE")


def _upgrade(conn: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = conn
    tables = set(inspect(conn).get_table_names())
    if "alembic_version" not in tables and {"api_keys", "ledger"} <= tables:
        # Made by `metadata.create_all` before migrations existed: that schema is the baseline.
        command.stamp(config, BASELINE)
    command.upgrade(config, revision)


def _current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()
