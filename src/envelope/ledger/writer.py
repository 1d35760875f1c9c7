"""Batches ledger records off the hot path.

`record()` only appends to a buffer. A background task writes the buffer every
`flush_interval` or as soon as it holds `batch_size` rows; `close()` writes what is
left. A failed batch stays buffered and is retried on the next flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from envelope.ledger.record import LedgerRecord
from envelope.store.ports import LedgerStore

log = logging.getLogger("envelope.ledger")


class LedgerWriter:
    def __init__(self, store: LedgerStore, *, batch_size: int, flush_interval_s: float) -> None:
        self._store = store
        self._batch_size = batch_size
        self._interval = flush_interval_s
        self._buffer: list[LedgerRecord] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ledger-writer")

    def record(self, row: LedgerRecord) -> None:
        self._buffer.append(row)
        if len(self._buffer) >= self._batch_size:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._buffer)

    async def flush(self) -> None:
        while self._buffer:
            batch = self._buffer[: self._batch_size]
            await self._store.append(batch)
            del self._buffer[: len(batch)]

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        await self.flush()

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # the outer shell of a background task: keep rows, retry later
                log.exception("ledger flush failed; %d rows kept for the next attempt", len(self._buffer))
                await asyncio.sleep(self._interval)
