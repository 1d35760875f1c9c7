"""Alembic migrations: an empty database migrated to head has exactly schema.py's tables."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, insert, inspect, text

from envelope.store import migrate
from envelope.store.schema import ledger, metadata
from tests.store.databases import SQL_KINDS, Database, empty_database
from tests.store.test_contract import record

HEAD = "0007"  # the newest migration: every test below ends there


def snapshot(conn: Connection) -> dict[str, Any]:
    """Tables as the database reports them: columns, keys, indexes, unique constraints."""
    insp = inspect(conn)
    tables: dict[str, Any] = {}
    for name in sorted(set(insp.get_table_names()) - {"alembic_version"}):
        tables[name] = {
            "columns": [(c["name"], c["type"].compile(conn.dialect), c["nullable"]) for c in insp.get_columns(name)],
            "primary_key": insp.get_pk_constraint(name)["constrained_columns"],
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in insp.get_indexes(name)),
            "unique": sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(name)),
        }
    return tables


def differences(conn: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(conn), metadata))


async def inspect_db(db: Database) -> tuple[dict[str, Any], list[Any], str | None]:
    engine = db.engine()
    try:
        async with engine.connect() as conn:
            return (await conn.run_sync(snapshot), await conn.run_sync(differences), await migrate.current(engine))
    finally:
        await engine.dispose()


@pytest.mark.parametrize("kind", SQL_KINDS)
async def test_migrating_an_empty_database_yields_schema_py(kind: str, tmp_path: Path) -> None:
    async with empty_database(kind, tmp_path / "a") as migrated, empty_database(kind, tmp_path / "b") as reference:
        await migrate.upgrade(migrated.url, connect_args=migrated.connect_args)
        engine = reference.engine()
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        await engine.dispose()

        tables, diffs, revision = await inspect_db(migrated)
        assert diffs == []  # Alembic's own comparison with schema.py: nothing to add or change
        assert revision == HEAD
        assert {name: [c[0] for c in t["columns"]] for name, t in tables.items()} == {
            t.name: [c.name for c in t.columns] for t in metadata.sorted_tables
        }
        assert tables == (await inspect_db(reference))[0]  # the same as create_all, as the database sees it
        assert [i[0] for i in tables["ledger"]["indexes"]] == ["ix_ledger_tenant_ts", "ix_ledger_ts"]


@pytest.mark.parametrize("kind", SQL_KINDS)
async def test_upgrading_twice_is_a_no_op(kind: str, tmp_path: Path) -> None:
    async with empty_database(kind, tmp_path) as db:
        store = db.store()
        await store.open()  # open() upgrades
        await store.append([record("kept")])
        await store.close()
        before = await inspect_db(db)
        await migrate.upgrade(db.url, connect_args=db.connect_args)
        await store.open()
        try:
            assert await store.count() == 1
        finally:
            await store.close()
        assert await inspect_db(db) == before
        engine = db.engine()
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM alembic_version"))).scalar_one() == 1
        await engine.dispose()


@pytest.mark.parametrize("kind", SQL_KINDS)
async def test_stores_opening_at_once_in_one_process_migrate_once(kind: str, tmp_path: Path) -> None:
    async with empty_database(kind, tmp_path) as db:
        stores = [db.store() for _ in range(6)]
        await asyncio.gather(*(s.open() for s in stores))  # separate engines, separate connections
        try:
            await stores[0].append([record("1")])
            assert [await s.count() for s in stores] == [1] * 6
        finally:
            await asyncio.gather(*(s.close() for s in stores))
        assert (await inspect_db(db))[1:] == ([], HEAD)


@pytest.mark.parametrize("kind", SQL_KINDS)
async def test_a_database_made_before_migrations_is_adopted_with_its_rows(kind: str, tmp_path: Path) -> None:
    async with empty_database(kind, tmp_path) as db:
        # how earlier builds made the schema: 0001's tables (what create_all made then), no version table
        await migrate.upgrade(db.url, revision="0001", connect_args=db.connect_args)
        engine = db.engine()
        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE alembic_version"))
            columns = {c["name"] for c in await conn.run_sync(lambda c: inspect(c).get_columns("ledger"))}
            row = {k: v for k, v in msgspec.structs.asdict(record("old")).items() if k in columns}
            await conn.execute(insert(ledger).values(**row))
        await engine.dispose()

        store = db.store()
        await store.open()
        try:
            assert await store.count() == 1
        finally:
            await store.close()
        assert (await inspect_db(db))[1:] == ([], HEAD)


_UPGRADE_AT = """
import asyncio, json, sys, time
from envelope.store import migrate
url, connect_args, start_at = sys.argv[1], json.loads(sys.argv[2]), float(sys.argv[3])
time.sleep(max(0.0, start_at - time.time()))
asyncio.run(migrate.upgrade(url, connect_args=connect_args))
"""


@pytest.mark.parametrize("kind", SQL_KINDS)
async def test_processes_starting_at_once_migrate_once(kind: str, tmp_path: Path) -> None:
    async with empty_database(kind, tmp_path) as db:
        start_at = time.time() + 3.0  # after every interpreter has imported Alembic
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                _UPGRADE_AT,
                db.url,
                json.dumps(db.connect_args),
                str(start_at),
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(4)
        ]
        results = [await asyncio.wait_for(p.communicate(), 60) for p in procs]
        assert [p.returncode for p in procs] == [0] * 4, [err.decode()[-2000:] for _, err in results]
        assert (await inspect_db(db))[1:] == ([], HEAD)
