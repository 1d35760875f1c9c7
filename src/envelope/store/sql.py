"""SQL store on SQLAlchemy Core (async): SQLite through aiosqlite by default.

The same statements serve PostgreSQL through asyncpg; only the URL differs.
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import Integer as Integer_
from sqlalchemy import event, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from envelope.keys import KeyRecord
from envelope.ledger.record import LedgerRecord
from envelope.store.ports import Conflict, CostLine, GroupBy
from envelope.store.schema import api_keys, ledger, metadata

_KEY_FIELDS = ("id", "tenant", "role", "route", "feature", "name", "created_at", "revoked_at")


class SQLStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: AsyncEngine | None = None
        self._ledger_insert: str | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("SQLStore.open() was not called")
        return self._engine

    async def open(self) -> None:
        engine = create_async_engine(self.url)
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        self._engine = engine

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    # --- keys ---

    async def add(self, record: KeyRecord, digest: str) -> None:
        values = {f: getattr(record, f) for f in _KEY_FIELDS}
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(api_keys).values(digest=digest, **values))
        except IntegrityError as exc:
            raise Conflict(f"key {record.id} exists") from exc

    async def find(self, digest: str) -> KeyRecord | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(*[api_keys.c[f] for f in _KEY_FIELDS]).where(api_keys.c.digest == digest))
            ).first()
        return KeyRecord(**row._mapping) if row else None

    async def revoke(self, key_id: str, at: float) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)).values(revoked_at=at)
            )
        return bool(result.rowcount)

    async def list_keys(self, tenant: str | None = None) -> list[KeyRecord]:
        query = select(*[api_keys.c[f] for f in _KEY_FIELDS]).order_by(api_keys.c.created_at, api_keys.c.id)
        if tenant is not None:
            query = query.where(api_keys.c.tenant == tenant)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [KeyRecord(**row._mapping) for row in rows]

    # --- ledger ---

    async def append(self, records: list[LedgerRecord]) -> None:
        if not records:
            return
        # Plain driver executemany with tuples: SQLAlchemy's per-row parameter processing
        # cost more than the insert itself at thousands of rows a second.
        rows = [msgspec.structs.astuple(r) for r in records]
        try:
            async with self.engine.begin() as conn:
                await conn.exec_driver_sql(self._insert_sql(), rows)
        except IntegrityError as exc:
            raise Conflict("a ledger batch repeats a request id") from exc

    def _insert_sql(self) -> str:
        if self._ledger_insert is None:
            names = [c.name for c in ledger.columns]
            assert names == list(LedgerRecord.__struct_fields__), "ledger columns follow LedgerRecord's fields"
            style = self.engine.dialect.paramstyle
            marks = [
                f"${i}" if style == "numeric_dollar" else "%s" if style == "format" else "?"
                for i in range(1, len(names) + 1)
            ]
            self._ledger_insert = f"INSERT INTO ledger ({', '.join(names)}) VALUES ({', '.join(marks)})"
        return self._ledger_insert

    async def summarize(self, by: GroupBy, since: float | None = None) -> list[CostLine]:
        group = func.coalesce(ledger.c[by], "-").label("grp")
        query = (
            select(
                group,
                func.count().label("requests"),
                func.sum((ledger.c.status >= 400).cast(Integer_)).label("errors"),
                func.sum(ledger.c.input_tokens).label("input_tokens"),
                func.sum(ledger.c.output_tokens).label("output_tokens"),
                func.sum(ledger.c.cost_usd).label("cost_usd"),
                func.avg(ledger.c.latency_ms).label("mean_latency_ms"),
            )
            .group_by(group)
            .order_by(func.sum(ledger.c.cost_usd).desc(), group)
        )
        if since is not None:
            query = query.where(ledger.c.ts >= since)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            CostLine(
                group=str(r.grp),
                requests=int(r.requests),
                errors=int(r.errors or 0),
                input_tokens=int(r.input_tokens or 0),
                output_tokens=int(r.output_tokens or 0),
                cost_usd=float(r.cost_usd or 0.0),
                mean_latency_ms=float(r.mean_latency_ms or 0.0),
            )
            for r in rows
        ]

    async def count(self) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(ledger))).scalar_one())


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets `envelope report` read while the gateway writes; NORMAL sync is durable under WAL.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
