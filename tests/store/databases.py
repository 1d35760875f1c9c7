"""Throwaway SQL databases for tests: a SQLite file, or a fresh PostgreSQL schema.

PostgreSQL must be running (127.0.0.1:5432 with trust auth, database `test`, or
`ENVELOPE_TEST_POSTGRES_URL`): a test that needs it fails when it is down, never skips.
Each use gets its own schema (search_path set through asyncpg's `server_settings`),
dropped afterwards, so parallel runs and reruns never meet.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from envelope.store.sql import SQLStore

POSTGRES_URL = os.environ.get("ENVELOPE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
SQL_KINDS = ["sqlite", "postgresql"]


@dataclass(frozen=True)
class Database:
    url: str
    connect_args: dict[str, Any] = field(default_factory=dict)

    def store(self) -> SQLStore:
        return SQLStore(self.url, connect_args=self.connect_args)

    def engine(self) -> AsyncEngine:
        return create_async_engine(self.url, connect_args=self.connect_args, poolclass=NullPool)


@asynccontextmanager
async def postgres_schema() -> AsyncIterator[Database]:
    name = f"envelope_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(POSTGRES_URL, poolclass=NullPool)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{name}"'))
    except OSError as exc:
        await admin.dispose()
        pytest.fail(f"PostgreSQL at {POSTGRES_URL} is not reachable ({exc}); these tests need it running")
    try:
        yield Database(POSTGRES_URL, {"server_settings": {"search_path": name}})
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        await admin.dispose()


@asynccontextmanager
async def empty_database(kind: str, directory: Path) -> AsyncIterator[Database]:
    """An empty database of `kind` ("sqlite" or "postgresql")."""
    if kind == "postgresql":
        async with postgres_schema() as db:
            yield db
    else:
        directory.mkdir(parents=True, exist_ok=True)
        yield Database(f"sqlite+aiosqlite:///{directory / f'{uuid.uuid4().hex[:8]}.db'}")
