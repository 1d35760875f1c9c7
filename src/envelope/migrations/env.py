"""Alembic's entry point, run by Alembic only (never imported by the gateway).

`envelope.store.migrate` hands over a connection already inside a transaction (and,
on PostgreSQL, holding the migration lock), so the migrations run in that transaction.
Without one (Alembic's own command line, with `sqlalchemy.url` set), this opens an
async engine itself.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from envelope.store.schema import metadata


def run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_on_own_engine(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(run_migrations)
    finally:
        await engine.dispose()


def main() -> None:
    config = context.config
    handed_over: Connection | None = config.attributes.get("connection")
    if handed_over is not None:
        run_migrations(handed_over)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url, or migrate through envelope.store.migrate")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(run_on_own_engine(url))


main()
