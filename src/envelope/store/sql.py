"""SQL store on SQLAlchemy Core (async): SQLite through aiosqlite by default.

The same statements serve PostgreSQL through asyncpg; only the URL differs
(`postgresql+asyncpg://user@host:5432/db`). The schema is made and kept current by
the Alembic migrations in `envelope.migrations`, applied by `open()`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, cast

import msgspec
from sqlalchemy import Integer as Integer_
from sqlalchemy import RowMapping, case, event, func, insert, make_url, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from envelope.keys import KeyRecord
from envelope.ledger.record import LedgerRecord
from envelope.ledger.rollup import LATENCY_BOUNDS_MS, SUMMED, Dimension, Totals, fold
from envelope.store import migrate
from envelope.store.batch_sql import BatchTables
from envelope.store.ports import (
    AuditAction,
    AuditEntry,
    ConfigVersion,
    Conflict,
    Rejected,
    StaleActive,
    UnknownVersion,
)
from envelope.store.records import PayloadSample, ShadowRecord, TransitionRecord
from envelope.store.schema import (
    api_keys,
    config_active,
    config_audit,
    config_versions,
    control_transitions,
    ledger,
    payload_samples,
    shadow_results,
)

_KEY_FIELDS = ("id", "tenant", "role", "route", "feature", "name", "created_at", "revoked_at")


# Positional placeholders by driver paramstyle: aiosqlite "qmark", asyncpg "numeric_dollar".
_MARKS = {"qmark": "?", "numeric_dollar": "${}", "format": "%s", "pyformat": "%s", "numeric": ":{}"}


class SQLStore(BatchTables):
    """`url` is an async SQLAlchemy URL; `connect_args` go to the driver (for asyncpg,
    e.g. `{"server_settings": {"search_path": "tenant_a"}}` to use another schema)."""

    def __init__(self, url: str, *, connect_args: Mapping[str, Any] | None = None) -> None:
        self.url = url
        self._connect_args = dict(connect_args or {})
        self._engine: AsyncEngine | None = None
        self._ledger_insert: str | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("SQLStore.open() was not called")
        return self._engine

    async def open(self) -> None:
        sqlite = make_url(self.url).get_backend_name() == "sqlite"
        # A server may restart under us: test pooled connections before use (one round trip),
        # so the first query after a restart does not fail.
        engine = create_async_engine(self.url, connect_args=self._connect_args, pool_pre_ping=not sqlite)
        if sqlite:
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        try:
            await migrate.upgrade_engine(engine)
        except BaseException:
            await engine.dispose()
            raise
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
        if records:
            await self._insert(self._insert_sql(), records)

    async def append_ignoring_duplicates(self, records: list[LedgerRecord]) -> None:
        if records:
            # SQLite (3.24+) and PostgreSQL both spell it this way.
            await self._insert(self._insert_sql() + " ON CONFLICT (request_id) DO NOTHING", records)

    async def _insert(self, sql: str, records: list[LedgerRecord]) -> None:
        # Plain driver executemany with tuples: SQLAlchemy's per-row parameter processing
        # cost more than the insert itself at thousands of rows a second.
        rows = [msgspec.structs.astuple(r) for r in records]
        try:
            async with self.engine.begin() as conn:
                await conn.exec_driver_sql(sql, rows)
        except DBAPIError as exc:
            refusal = _refusal(exc)
            if refusal is None:
                raise  # not about the values (connection, lock, schema): the caller retries later
            raise refusal(f"the store refused a ledger batch: {exc.orig}") from exc

    def _insert_sql(self) -> str:
        if self._ledger_insert is None:
            names = [c.name for c in ledger.columns]
            assert names == list(LedgerRecord.__struct_fields__), "ledger columns follow LedgerRecord's fields"
            mark = _MARKS[self.engine.dialect.paramstyle]
            marks = [mark.format(i) for i in range(1, len(names) + 1)]
            self._ledger_insert = f"INSERT INTO ledger ({', '.join(names)}) VALUES ({', '.join(marks)})"
        return self._ledger_insert

    async def count(self) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(ledger))).scalar_one())

    async def rollup(
        self,
        by: Sequence[Dimension] = (),
        *,
        since: float | None = None,
        until: float | None = None,
        bucket_s: float | None = None,
        where: Mapping[Dimension, str] | None = None,
    ) -> list[Totals]:
        c = ledger.c
        keys: list[Any] = [c[d] for d in by]
        if bucket_s is not None:
            keys.append(self._bucket(bucket_s).label("bucket"))
        lbin = case(*[(c.latency_ms < b, i) for i, b in enumerate(LATENCY_BOUNDS_MS)], else_=len(LATENCY_BOUNDS_MS))
        keys.append(lbin.label("lbin"))
        sums = [func.sum(c[name]).label(name) for name in SUMMED]
        errors = func.sum((c.status >= 400).cast(Integer_)).label("errors")
        query = select(*keys, func.count().label("requests"), errors, *sums).group_by(*keys)
        if since is not None:
            query = query.where(c.ts >= since)
        if until is not None:
            query = query.where(c.ts < until)
        for dimension, value in (where or {}).items():
            query = query.where(c[dimension] == value)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return fold([r._mapping for r in rows], by, bucket_s)

    def _bucket(self, bucket_s: float) -> Any:
        """floor(ts / bucket): SQLite truncates on CAST (ts > 0), PostgreSQL has floor()."""
        scaled = ledger.c.ts / bucket_s
        if self.engine.dialect.name == "sqlite":
            return scaled.cast(Integer_)
        return func.floor(scaled)

    # --- registry ---
    # Every registry write first takes the registry lock (`_lock_registry`), so version
    # numbers (max + 1) and activations never interleave across processes.

    async def add_version(
        self, digest: str, documents: str, *, actor: str, message: str, at: float
    ) -> tuple[ConfigVersion, bool]:
        async with self.engine.connect() as conn:
            await _lock_registry(conn)
            row = (await conn.execute(select(config_versions).where(config_versions.c.digest == digest))).first()
            if row is not None:
                return _version(row._mapping), False
            highest = select(func.coalesce(func.max(config_versions.c.number), 0))
            number = int((await conn.execute(highest)).scalar_one())
            version = ConfigVersion(number + 1, digest, documents, at, actor, message, "new")
            await conn.execute(insert(config_versions).values(**_version_values(version)))
            await conn.commit()
        return version, True

    async def get_version(self, number: int) -> ConfigVersion | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(config_versions).where(config_versions.c.number == number))).first()
        return _version(row._mapping) if row else None

    async def list_versions(self, limit: int | None = None) -> list[ConfigVersion]:
        query = select(config_versions).order_by(config_versions.c.number.desc()).limit(limit)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_version(r._mapping) for r in rows]

    async def active_version(self) -> int | None:
        async with self.engine.connect() as conn:
            value = (await conn.execute(select(config_active.c.version).where(config_active.c.id == 1))).scalar()
        return None if value is None else int(value)

    async def activate(
        self,
        number: int,
        *,
        expected: int | None,
        actor: str,
        action: AuditAction,
        summary: str,
        reason: str | None,
        at: float,
        bad_reason: str | None = None,
    ) -> AuditEntry:
        versions = config_versions.c
        async with self.engine.connect() as conn:
            current = await _lock_registry(conn)
            if current != expected:
                raise StaleActive(f"version {current} is active, not {expected}")
            if (await conn.execute(select(versions.number).where(versions.number == number))).first() is None:
                raise UnknownVersion(f"no config version {number}")
            if current is not None and current != number:
                retire = update(config_versions).where(versions.number == current)
                if bad_reason is not None:
                    await conn.execute(retire.values(status="bad", bad_reason=bad_reason))
                else:
                    await conn.execute(retire.where(versions.status != "bad").values(status="retired"))
            await conn.execute(
                update(config_versions).where(versions.number == number).values(status="active", bad_reason=None)
            )
            await conn.execute(
                update(config_active).where(config_active.c.id == 1).values(version=number, activated_at=at)
            )
            entry = dict(ts=at, actor=actor, action=action, from_version=current, to_version=number)
            audit = insert(config_audit).values(**entry, summary=summary, reason=reason).returning(config_audit.c.id)
            audit_id = int((await conn.execute(audit)).scalar_one())
            await conn.commit()
        return AuditEntry(audit_id, at, actor, action, current, number, summary, reason)

    async def mark_bad(self, number: int, reason: str) -> bool:
        async with self.engine.connect() as conn:
            await _lock_registry(conn)
            result = await conn.execute(
                update(config_versions)
                .where(config_versions.c.number == number)
                .values(status="bad", bad_reason=reason)
            )
            await conn.commit()
        return bool(result.rowcount)

    async def audit_log(self, limit: int | None = None) -> list[AuditEntry]:
        query = select(config_audit).order_by(config_audit.c.id.desc()).limit(limit)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            AuditEntry(
                id=int(r.id),
                ts=float(r.ts),
                actor=r.actor,
                action=cast(AuditAction, r.action),
                from_version=r.from_version,
                to_version=int(r.to_version),
                summary=r.summary,
                reason=r.reason,
            )
            for r in rows
        ]

    # --- control plane and samples ---

    async def add_transition(self, record: TransitionRecord) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(insert(control_transitions).values(**dataclasses.asdict(record)))

    async def transitions(self, since: float | None = None, scope: str | None = None) -> list[TransitionRecord]:
        query = select(*[control_transitions.c[f.name] for f in dataclasses.fields(TransitionRecord)])
        if since is not None:
            query = query.where(control_transitions.c.ts >= since)
        if scope is not None:
            query = query.where(control_transitions.c.scope.startswith(scope, autoescape=True))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.order_by(control_transitions.c.ts, control_transitions.c.id))).all()
        return [TransitionRecord(**r._mapping) for r in rows]

    async def add_shadow(self, record: ShadowRecord) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(insert(shadow_results).values(**dataclasses.asdict(record)))

    async def shadows(self, route: str | None = None, since: float | None = None) -> list[ShadowRecord]:
        query = select(shadow_results)
        if route is not None:
            query = query.where(shadow_results.c.route == route)
        if since is not None:
            query = query.where(shadow_results.c.ts >= since)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.order_by(shadow_results.c.ts))).all()
        return [ShadowRecord(**r._mapping) for r in rows]

    async def add_samples(self, samples: list[PayloadSample]) -> None:
        if not samples:
            return
        rows = [dataclasses.asdict(sample) for sample in samples]
        async with self.engine.begin() as conn:
            known = set(
                (
                    await conn.execute(
                        select(payload_samples.c.request_id).where(
                            payload_samples.c.request_id.in_([r["request_id"] for r in rows])
                        )
                    )
                ).scalars()
            )
            fresh = [r for r in rows if r["request_id"] not in known]
            if fresh:
                await conn.execute(insert(payload_samples), fresh)

    async def list_samples(
        self, *, since: float | None = None, route: str | None = None, limit: int | None = None
    ) -> list[PayloadSample]:
        query = select(payload_samples)
        if since is not None:
            query = query.where(payload_samples.c.ts >= since)
        if route is not None:
            query = query.where(payload_samples.c.route == route)
        query = query.order_by(payload_samples.c.ts.desc()).limit(limit)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [PayloadSample(**r._mapping) for r in reversed(rows)]


async def _lock_registry(conn: AsyncConnection) -> int | None:
    """Begin the registry's write transaction, one writer at a time; the active version.

    PostgreSQL: a row lock on the pointer row, held to commit or rollback. SQLite: the
    database's write lock (`BEGIN IMMEDIATE`; others wait up to busy_timeout).
    """
    if conn.dialect.name == "sqlite":
        await conn.exec_driver_sql("BEGIN IMMEDIATE")
    query = select(config_active.c.version).where(config_active.c.id == 1).with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:  # the migration seeds the row; a database made by create_all lacks it
        await conn.execute(insert(config_active).values(id=1, version=None, activated_at=None))
        return None
    return None if row.version is None else int(row.version)


def _version(row: RowMapping) -> ConfigVersion:
    return ConfigVersion(**row)


def _version_values(version: ConfigVersion) -> dict[str, Any]:
    return dataclasses.asdict(version)


def _refusal(exc: DBAPIError) -> type[Rejected] | None:
    """`Conflict` for a duplicate key, `Rejected` for values the database refuses, else None.

    Read from the SQLSTATE (PostgreSQL: class 22 data, 23 integrity) or SQLite's error
    name, because asyncpg's executemany surfaces them as a plain `DBAPIError`.
    """
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "__cause__", None), "sqlstate", None) or ""
    name = getattr(orig, "sqlite_errorname", "")
    if state == "23505" or name in ("SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"):
        return Conflict
    if state[:2] in ("22", "23") or name.startswith(("SQLITE_CONSTRAINT", "SQLITE_MISMATCH", "SQLITE_TOOBIG")):
        return Rejected
    return None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets `envelope report` read while the gateway writes; NORMAL sync is durable under WAL.
    # busy_timeout first: switching a new file to WAL takes a lock another process may hold.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
