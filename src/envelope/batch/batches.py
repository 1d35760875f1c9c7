"""The batch API's operations over the store: files in, batches created, read and
cancelled. The HTTP routes (`http/batches.py`) only translate; the worker
(`batch/worker.py`) runs what is created here."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from typing import Protocol

import msgspec

from envelope.batch import intake
from envelope.batch.records import BatchItem, BatchRecord, FileRecord
from envelope.config.batch import BatchDoc
from envelope.errors import BodyTooLarge, InvalidRequest, NotFound
from envelope.keys import KeyRecord
from envelope.store.ports import BatchStore

WINDOW = re.compile(r"^([1-9][0-9]{0,2})h$")  # "24h"; up to a week
MAX_WINDOW_H = 168
MAX_METADATA = 16
# The request headers a batch keeps and gives each of its requests.
KEPT_HEADERS = ("x-envelope-route", "x-envelope-feature", "x-envelope-mode", "x-envelope-cost-budget")


class Ids(Protocol):
    def __call__(self, prefix: str) -> str: ...


def new_id(prefix: str) -> str:
    return f"{prefix}_{os.urandom(12).hex()}"


class Batches:
    def __init__(
        self,
        store: BatchStore,
        settings: BatchDoc,
        *,
        ids: Ids = new_id,
        clock: Callable[[], float] = time.time,
        on_work: Callable[[], None] | None = None,  # a batch was created or cancelled here: wake the worker
    ) -> None:
        self._store = store
        self._settings = settings
        self._on_work = on_work
        self._ids = ids
        self._clock = clock

    async def upload(self, key: KeyRecord, *, filename: str, purpose: str, content: bytes) -> FileRecord:
        if purpose != "batch":
            raise InvalidRequest("Only purpose 'batch' can be uploaded.", param="purpose", code="invalid_purpose")
        if len(content) > self._settings.max_file_bytes:
            raise BodyTooLarge(f"The file is {len(content)} bytes; the limit is {self._settings.max_file_bytes}.")
        if not content.strip():
            raise InvalidRequest("The file is empty.", param="file", code="empty_file")
        name = filename.strip()[:256] or "upload.jsonl"
        record = FileRecord(self._ids("file"), key.tenant, "batch", name, len(content), self._clock())
        await self._store.add_file(record, content)
        return record

    async def files(self, key: KeyRecord, purpose: str | None = None) -> list[FileRecord]:
        return await self._store.list_files(key.tenant, purpose)

    async def batches(self, key: KeyRecord) -> list[BatchRecord]:
        return await self._store.list_batches(key.tenant)

    async def file(self, key: KeyRecord, file_id: str) -> FileRecord:
        record = await self._store.get_file(file_id)
        if record is None or record.tenant != key.tenant:  # another tenant's file does not exist for this one
            raise NotFound(f"No file {file_id!r}.", param="file_id", code="file_not_found")
        return record

    async def content(self, key: KeyRecord, file_id: str) -> bytes:
        return await self._content(await self.file(key, file_id))

    async def _content(self, record: FileRecord) -> bytes:
        content = await self._store.file_content(record.id)
        if content is None:  # deleted since it was read
            raise NotFound(f"No file {record.id!r}.", param="file_id", code="file_not_found")
        return content

    async def delete(self, key: KeyRecord, file_id: str) -> None:
        await self.file(key, file_id)
        await self._store.delete_file(file_id)

    async def create(
        self,
        key: KeyRecord,
        *,
        input_file_id: str,
        endpoint: str,
        completion_window: str,
        metadata: Mapping[str, str] | None,
        headers: Mapping[str, str],
    ) -> BatchRecord:
        if endpoint not in intake.ENDPOINTS:
            raise InvalidRequest(
                f"endpoint must be one of {', '.join(intake.ENDPOINTS)}.", param="endpoint", code="invalid_endpoint"
            )
        hours = _window_hours(completion_window)
        if metadata is not None and len(metadata) > MAX_METADATA:
            raise InvalidRequest(f"metadata has at most {MAX_METADATA} keys.", param="metadata")
        source = await self.file(key, input_file_id)
        if source.purpose != "batch":
            raise InvalidRequest("The input file must have purpose 'batch'.", param="input_file_id")
        lines, problems = intake.read(
            await self._content(source), endpoint=endpoint, max_items=self._settings.max_items
        )
        if problems:
            raise InvalidRequest(intake.describe(problems), param="input_file_id", code="invalid_batch_file")
        now = self._clock()
        batch_id = self._ids("batch")
        kept = {name: headers[name] for name in KEPT_HEADERS if name in headers}
        record = BatchRecord(
            id=batch_id,
            tenant=key.tenant,
            key_id=key.id,
            input_file_id=input_file_id,
            endpoint=endpoint,
            completion_window=completion_window,
            status="in_progress",
            created_at=now,
            in_progress_at=now,
            expires_at=now + hours * 3600,
            headers=msgspec.json.encode(kept).decode(),
            metadata=msgspec.json.encode(dict(metadata)).decode() if metadata is not None else None,
            total=len(lines),
        )
        items = [BatchItem(batch_id, line.index, line.custom_id, line.body) for line in lines]
        await self._store.add_batch(record, items)
        if self._on_work is not None:
            self._on_work()
        return record

    async def batch(self, key: KeyRecord, batch_id: str) -> BatchRecord:
        record = await self._store.get_batch(batch_id)
        if record is None or record.tenant != key.tenant:
            raise NotFound(f"No batch {batch_id!r}.", param="batch_id", code="batch_not_found")
        return record

    async def cancel(self, key: KeyRecord, batch_id: str) -> BatchRecord:
        await self.batch(key, batch_id)
        record = await self._store.cancel_batch(batch_id, self._clock())
        assert record is not None
        if self._on_work is not None and record.status == "cancelling":
            self._on_work()
        return record


def _window_hours(window: str) -> int:
    match = WINDOW.match(window)
    hours = int(match.group(1)) if match else 0
    if not 1 <= hours <= MAX_WINDOW_H:
        raise InvalidRequest(
            f"completion_window must be hours, 1h to {MAX_WINDOW_H}h (e.g. '24h').", param="completion_window"
        )
    return hours
