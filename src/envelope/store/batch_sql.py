"""The batch API's tables on the SQL store (`BatchStore` in `ports.py`); mixed into `SQLStore`.

Leases and settles are compare-and-set updates (a `WHERE` on the state expected, then
the row count), which SQLite and PostgreSQL both make atomic without explicit locks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from envelope.batch.records import OPEN_STATUSES, PARKED, BatchItem, BatchRecord, BatchStatus, FileRecord, ItemStatus
from envelope.store.ports import Conflict
from envelope.store.schema import batch_items, batches, files

_FILE_FIELDS = [f.name for f in dataclasses.fields(FileRecord)]


class BatchTables:
    @property
    def engine(self) -> AsyncEngine:
        raise NotImplementedError  # SQLStore's

    async def add_file(self, record: FileRecord, content: bytes) -> None:
        async with self.engine.begin() as conn:
            await _add_file(conn, record, content)

    async def get_file(self, file_id: str) -> FileRecord | None:
        query = select(*[files.c[f] for f in _FILE_FIELDS]).where(files.c.id == file_id)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return FileRecord(**row._mapping) if row else None

    async def file_content(self, file_id: str) -> bytes | None:
        async with self.engine.connect() as conn:
            value = (await conn.execute(select(files.c.content).where(files.c.id == file_id))).scalar()
        return None if value is None else bytes(value)

    async def list_files(self, tenant: str, purpose: str | None = None) -> list[FileRecord]:
        query = select(*[files.c[f] for f in _FILE_FIELDS]).where(files.c.tenant == tenant)
        if purpose is not None:
            query = query.where(files.c.purpose == purpose)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.order_by(files.c.created_at.desc(), files.c.id.desc()))).all()
        return [FileRecord(**r._mapping) for r in rows]

    async def delete_file(self, file_id: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(files.delete().where(files.c.id == file_id))
        return bool(result.rowcount)

    async def add_batch(self, record: BatchRecord, items: Sequence[BatchItem]) -> None:
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(batches).values(**dataclasses.asdict(record)))
                if items:
                    await conn.execute(insert(batch_items), [dataclasses.asdict(item) for item in items])
        except IntegrityError as exc:
            raise Conflict(f"batch {record.id} exists") from exc

    async def get_batch(self, batch_id: str) -> BatchRecord | None:
        async with self.engine.connect() as conn:
            return await _batch(conn, batch_id)

    async def list_batches(self, tenant: str) -> list[BatchRecord]:
        query = select(batches).where(batches.c.tenant == tenant)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.order_by(batches.c.created_at.desc(), batches.c.id.desc()))).all()
        return [BatchRecord(**r._mapping) for r in rows]

    async def cancel_batch(self, batch_id: str, at: float) -> BatchRecord | None:
        unpark = case((batches.c.lease_owner == PARKED, 0.0), else_=batches.c.lease_until)
        async with self.engine.begin() as conn:
            await conn.execute(
                update(batches)
                .where(batches.c.id == batch_id, batches.c.status.in_(("validating", "in_progress")))
                .values(status="cancelling", cancelling_at=at, lease_until=unpark)
            )
            return await _batch(conn, batch_id)

    async def claim_batch(self, owner: str, *, now: float, lease_s: float) -> BatchRecord | None:
        free = or_(batches.c.lease_owner.is_(None), batches.c.lease_until < now, batches.c.lease_owner == owner)
        candidates = (
            select(batches.c.id).where(batches.c.status.in_(OPEN_STATUSES), free).order_by(batches.c.created_at)
        )
        async with self.engine.begin() as conn:
            for batch_id in (await conn.execute(candidates.limit(20))).scalars().all():
                claim = update(batches).where(batches.c.id == batch_id, batches.c.status.in_(OPEN_STATUSES), free)
                result = await conn.execute(claim.values(lease_owner=owner, lease_until=now + lease_s))
                if result.rowcount:
                    return await _batch(conn, batch_id)
        return None

    async def renew_lease(self, batch_id: str, owner: str, until: float) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(batches)
                .where(batches.c.id == batch_id, batches.c.lease_owner == owner)
                .values(lease_until=until)
            )
        return bool(result.rowcount)

    async def park_batch(self, batch_id: str, owner: str, until: float) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(batches)
                .where(batches.c.id == batch_id, batches.c.lease_owner == owner)
                .values(lease_owner=PARKED, lease_until=until)
            )
        return bool(result.rowcount)

    async def next_due(self, batch_id: str) -> float | None:
        c = batch_items.c
        query = select(func.min(func.coalesce(c.next_attempt_at, 0.0)), func.count()).where(
            c.batch_id == batch_id, c.status == "pending"
        )
        async with self.engine.connect() as conn:
            earliest, pending = (await conn.execute(query)).one()
        return float(earliest) if pending else None

    async def due_items(self, batch_id: str, *, now: float, limit: int) -> list[BatchItem]:
        c = batch_items.c
        due = or_(c.next_attempt_at.is_(None), c.next_attempt_at <= now)
        query = select(batch_items).where(c.batch_id == batch_id, c.status == "pending", due)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.order_by(c.index).limit(limit))).all()
        return [BatchItem(**r._mapping) for r in rows]

    async def defer_item(self, batch_id: str, index: int, *, attempts: int, next_attempt_at: float) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(batch_items)
                .where(_item(batch_id, index), batch_items.c.status == "pending")
                .values(attempts=attempts, next_attempt_at=next_attempt_at)
            )

    async def settle_item(
        self,
        batch_id: str,
        index: int,
        *,
        status: ItemStatus,
        attempts: int,
        status_code: int,
        response: str,
        request_id: str | None,
        at: float,
    ) -> bool:
        values = dict(
            status=status,
            attempts=attempts,
            status_code=status_code,
            response=response,
            request_id=request_id,
            finished_at=at,
        )
        counter = batches.c.completed if status == "done" else batches.c.failed
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(batch_items).where(_item(batch_id, index), batch_items.c.status == "pending").values(**values)
            )
            if not result.rowcount:
                return False
            await conn.execute(update(batches).where(batches.c.id == batch_id).values({counter: counter + 1}))
        return True

    async def list_items(self, batch_id: str) -> list[BatchItem]:
        query = select(batch_items).where(batch_items.c.batch_id == batch_id).order_by(batch_items.c.index)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [BatchItem(**r._mapping) for r in rows]

    async def finish_batch(
        self,
        batch_id: str,
        *,
        status: BatchStatus,
        at: float,
        leftover: ItemStatus | None,
        files: Sequence[tuple[FileRecord, bytes]],
        output_file_id: str | None,
        error_file_id: str | None,
    ) -> None:
        async with self.engine.begin() as conn:
            if leftover is not None:
                await conn.execute(
                    update(batch_items)
                    .where(batch_items.c.batch_id == batch_id, batch_items.c.status == "pending")
                    .values(status=leftover, finished_at=at)
                )
            for record, content in files:
                await _add_file(conn, record, content)
            changes: dict[str, Any] = {
                "status": status,
                f"{status}_at": at,
                "output_file_id": output_file_id,
                "error_file_id": error_file_id,
                "lease_owner": None,
                "lease_until": None,
            }
            await conn.execute(update(batches).where(batches.c.id == batch_id).values(**changes))


def _item(batch_id: str, index: int) -> Any:
    return and_(batch_items.c.batch_id == batch_id, batch_items.c.index == index)


async def _batch(conn: AsyncConnection, batch_id: str) -> BatchRecord | None:
    row = (await conn.execute(select(batches).where(batches.c.id == batch_id))).first()
    return BatchRecord(**row._mapping) if row else None


async def _add_file(conn: AsyncConnection, record: FileRecord, content: bytes) -> None:
    if (await conn.execute(select(files.c.id).where(files.c.id == record.id))).first() is None:
        await conn.execute(insert(files).values(**dataclasses.asdict(record), content=content))
