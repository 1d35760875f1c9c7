"""Whole throwaway PostgreSQL databases, for tests whose gateways connect by URL alone.

PostgreSQL must run on 127.0.0.1:5432 (trust auth): a test needing it fails, never skips.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

SERVER = "postgresql://postgres@127.0.0.1:5432"


async def admin(*statements: str) -> None:
    """Run statements as the superuser, connected to the `test` database."""
    conn = await asyncpg.connect(f"{SERVER}/test")
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A new, empty database's name; dropped (even if it was closed to connections) afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        asyncio.run(admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true', f'DROP DATABASE "{name}" WITH (FORCE)'))


def sqlalchemy_url(database: str) -> str:
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"
