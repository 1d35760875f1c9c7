"""The batch API's records in memory (`BatchStore` in `ports.py`); mixed into `MemoryStore`.

No await between a read and its write: each method is atomic on the event loop.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from envelope.batch.records import OPEN_STATUSES, PARKED, BatchItem, BatchRecord, BatchStatus, FileRecord, ItemStatus
from envelope.store.ports import Conflict


class BatchRecords:
    def __init__(self) -> None:
        self._files: dict[str, tuple[FileRecord, bytes]] = {}
        self._batches: dict[str, BatchRecord] = {}
        self._items: dict[str, list[BatchItem]] = {}

    async def add_file(self, record: FileRecord, content: bytes) -> None:
        self._files.setdefault(record.id, (record, content))

    async def get_file(self, file_id: str) -> FileRecord | None:
        found = self._files.get(file_id)
        return found[0] if found else None

    async def file_content(self, file_id: str) -> bytes | None:
        found = self._files.get(file_id)
        return found[1] if found else None

    async def list_files(self, tenant: str, purpose: str | None = None) -> list[FileRecord]:
        records = [f for f, _ in self._files.values() if f.tenant == tenant and purpose in (None, f.purpose)]
        return sorted(records, key=lambda f: (f.created_at, f.id), reverse=True)

    async def delete_file(self, file_id: str) -> bool:
        return self._files.pop(file_id, None) is not None

    async def add_batch(self, record: BatchRecord, items: Sequence[BatchItem]) -> None:
        if record.id in self._batches:
            raise Conflict(f"batch {record.id} exists")
        self._batches[record.id] = record
        self._items[record.id] = list(items)

    async def get_batch(self, batch_id: str) -> BatchRecord | None:
        return self._batches.get(batch_id)

    async def list_batches(self, tenant: str) -> list[BatchRecord]:
        records = [b for b in self._batches.values() if b.tenant == tenant]
        return sorted(records, key=lambda b: (b.created_at, b.id), reverse=True)

    async def cancel_batch(self, batch_id: str, at: float) -> BatchRecord | None:
        batch = self._batches.get(batch_id)
        if batch is not None and batch.status in ("validating", "in_progress"):
            until = 0.0 if batch.lease_owner == PARKED else batch.lease_until
            batch = dataclasses.replace(batch, status="cancelling", cancelling_at=at, lease_until=until)
            self._batches[batch_id] = batch
        return batch

    async def claim_batch(self, owner: str, *, now: float, lease_s: float) -> BatchRecord | None:
        for batch in sorted(self._batches.values(), key=lambda b: b.created_at):
            free = batch.lease_owner in (None, owner) or (batch.lease_until or 0.0) < now
            if batch.status in OPEN_STATUSES and free:
                claimed = dataclasses.replace(batch, lease_owner=owner, lease_until=now + lease_s)
                self._batches[batch.id] = claimed
                return claimed
        return None

    async def renew_lease(self, batch_id: str, owner: str, until: float) -> bool:
        batch = self._batches.get(batch_id)
        if batch is None or batch.lease_owner != owner:
            return False
        self._batches[batch_id] = dataclasses.replace(batch, lease_until=until)
        return True

    async def park_batch(self, batch_id: str, owner: str, until: float) -> bool:
        batch = self._batches.get(batch_id)
        if batch is None or batch.lease_owner != owner:
            return False
        self._batches[batch_id] = dataclasses.replace(batch, lease_owner=PARKED, lease_until=until)
        return True

    async def next_due(self, batch_id: str) -> float | None:
        waits = [i.next_attempt_at or 0.0 for i in self._items.get(batch_id, []) if i.status == "pending"]
        return min(waits, default=None)

    async def due_items(self, batch_id: str, *, now: float, limit: int) -> list[BatchItem]:
        due = [
            item
            for item in self._items.get(batch_id, [])
            if item.status == "pending" and (item.next_attempt_at is None or item.next_attempt_at <= now)
        ]
        return due[:limit]

    async def defer_item(self, batch_id: str, index: int, *, attempts: int, next_attempt_at: float) -> None:
        items = self._items[batch_id]
        if items[index].status == "pending":
            items[index] = dataclasses.replace(items[index], attempts=attempts, next_attempt_at=next_attempt_at)

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
        items = self._items[batch_id]
        if items[index].status != "pending":
            return False
        items[index] = dataclasses.replace(
            items[index],
            status=status,
            attempts=attempts,
            status_code=status_code,
            response=response,
            request_id=request_id,
            finished_at=at,
        )
        batch = self._batches[batch_id]
        if status == "done":
            self._batches[batch_id] = dataclasses.replace(batch, completed=batch.completed + 1)
        else:
            self._batches[batch_id] = dataclasses.replace(batch, failed=batch.failed + 1)
        return True

    async def list_items(self, batch_id: str) -> list[BatchItem]:
        return list(self._items.get(batch_id, []))

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
        if leftover is not None:
            self._items[batch_id] = [
                dataclasses.replace(i, status=leftover, finished_at=at) if i.status == "pending" else i
                for i in self._items[batch_id]
            ]
        for record, content in files:
            self._files.setdefault(record.id, (record, content))
        changes = {
            "status": status,
            f"{status}_at": at,
            "output_file_id": output_file_id,
            "error_file_id": error_file_id,
            "lease_owner": None,
            "lease_until": None,
        }
        self._batches[batch_id] = dataclasses.replace(self._batches[batch_id], **changes)  # type: ignore[arg-type]
