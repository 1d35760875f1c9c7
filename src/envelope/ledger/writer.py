"""Batches ledger records off the hot path; spools them to disk while the store is away.

`record()` appends to a buffer, after writing the row to this process's journal
(`journal.py`: one plain write, so even SIGKILL loses no row). A background task writes the buffer every
`flush_interval` or as soon as it holds `batch_size` rows; `close()` writes what is
left (to the store, else to the spool, which the next start replays).

A batch the store does not take (an error, or no answer within `write_timeout_s`) is
appended to the local spool (`spool.py`, fsync'd) and dropped from memory. While the
store stays away, new rows follow it to disk at each flush and the store is tried
again every `retry_interval_s`. Once it answers, spooled rows are replayed with
duplicate request ids skipped, so a row is never lost and never counted twice, also
across a crash: on start (and every `ORPHAN_SCAN_S`) the writer replays the spool
files that dead processes left. Memory stays bounded: when a store write hangs and
the buffer reaches `SPILL_FACTOR × batch_size` rows, they go to the spool at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

from envelope.ledger.journal import Journal
from envelope.ledger.record import LedgerRecord
from envelope.ledger.spool import Spool
from envelope.store.ports import LedgerStore, Rejected

log = logging.getLogger("envelope.ledger")

SPILL_FACTOR = 10
ORPHAN_SCAN_S = 30.0  # how often to look for spool files that another, now dead, process left


class LedgerWriter:
    """`spool_dir` defaults to `.envelope-spool` in the working directory (see
    `spool.default_spool_dir` for one derived from the database URL)."""

    def __init__(
        self,
        store: LedgerStore,
        *,
        batch_size: int,
        flush_interval_s: float,
        spool_dir: Path | None = None,
        write_timeout_s: float = 30.0,
        retry_interval_s: float = 1.0,
    ) -> None:
        self._store = store
        self._batch_size = batch_size
        self._interval = flush_interval_s
        self._timeout = write_timeout_s
        self._retry_interval = retry_interval_s
        self._spool = Spool(spool_dir if spool_dir is not None else Path.cwd() / ".envelope-spool")
        self._journal = Journal(self._spool)
        self._in_flight = 0  # rows taken from the buffer, not yet stored, spooled or put back
        self._buffer: list[LedgerRecord] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._overflow: asyncio.Task[None] | None = None
        self._closing = False
        self._down = False  # the last store write failed
        self._retry_at = 0.0  # monotonic time of the next store attempt while down
        self._next_scan = 0.0  # monotonic time to look for other processes' spool files; 0: at once

    @property
    def spool_dir(self) -> Path:
        return self._spool.directory

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ledger-writer")
        self._wake.set()  # replay what earlier processes left without waiting for the interval

    def record(self, row: LedgerRecord) -> None:
        self._journal.write(row)
        self._buffer.append(row)
        if len(self._buffer) >= self._batch_size:
            self._wake.set()
            if len(self._buffer) >= SPILL_FACTOR * self._batch_size and self._overflow is None:
                self._overflow = asyncio.create_task(self._spill_overflow(self._take()), name="ledger-spill")

    @property
    def pending(self) -> int:
        """Rows held in memory, not yet in the store or the spool."""
        return len(self._buffer)

    async def flush(self) -> None:
        """Write the buffer to the store (or the spool), then replay the spool, now."""
        await self._cycle(force=True)

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._overflow is not None:
            await self._overflow
        await self._cycle(force=False, replay=False)  # a long replay would hold up shutdown; the next start does it
        if self._buffer:  # the spool failed too: nowhere left to put them but the journal
            log.error("ledger closed with %d rows neither stored nor spooled", len(self._buffer))
        self._journal.close(all_disposed=not self._buffer and self._in_flight == 0)
        await asyncio.to_thread(self._spool.close)

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                await self._cycle(force=False)
            except Exception:  # the outer shell of a background task: rows stay buffered
                log.exception("ledger flush failed; %d rows kept for the next attempt", len(self._buffer))
                await asyncio.sleep(self._interval)

    async def _cycle(self, *, force: bool, replay: bool = True) -> None:
        self._journal.seal()
        try:
            await self._store_buffer(force=force, replay=replay)
        finally:
            if not self._buffer and self._in_flight == 0:
                self._journal.discard_sealed()  # every row it holds is stored or spooled

    async def _store_buffer(self, *, force: bool, replay: bool) -> None:
        if self._down and not force and time.monotonic() < self._retry_at:
            await self._spill(self._take())  # store away: keep memory small until the next try
            return
        while self._buffer:
            batch = self._take(self._batch_size)
            if await self._write(batch):
                self._in_flight -= len(batch)
                continue
            if self._down:
                batch += self._take()  # the store is away: everything waiting goes to disk
            if not await self._spill(batch) or self._down:
                return
        if replay and (self._spool.pending or force or time.monotonic() >= self._next_scan):
            self._next_scan = time.monotonic() + ORPHAN_SCAN_S
            await self._replay()

    async def _write(self, batch: list[LedgerRecord]) -> bool:
        """Whether the store took the batch. False: it is away, or refused the batch
        (then replay, row by row, finds the row it cannot hold)."""
        try:
            await asyncio.wait_for(self._store.append(batch), self._timeout)
        except Rejected as exc:
            log.warning("ledger store refused a batch of %d rows (%s); spooled for row-by-row replay", len(batch), exc)
            return False
        except Exception as exc:  # whatever went wrong, the rows go to disk: nothing is lost
            self._mark_down(exc)
            return False
        self._mark_up()
        return True

    async def _replay(self) -> None:
        files = await asyncio.to_thread(self._spool.claim)
        replayed = 0
        for spooled in files:
            offset = 0
            while True:
                rows, offset = await asyncio.to_thread(self._spool.read, spooled, offset, self._batch_size)
                if not rows:
                    break
                if not await self._replay_rows(rows):
                    return  # the file stays held; the next attempt starts it over, duplicates skipped
                replayed += len(rows)
            await asyncio.to_thread(self._spool.discard, spooled)
        if replayed:
            log.warning("ledger: %d spooled rows replayed into the store", replayed)

    async def _replay_rows(self, rows: list[LedgerRecord]) -> bool:
        try:
            await asyncio.wait_for(self._store.append_ignoring_duplicates(rows), self._timeout)
        except Rejected:
            return await self._isolate(rows)
        except Exception as exc:
            self._mark_down(exc)
            return False
        self._mark_up()
        return True

    async def _isolate(self, rows: list[LedgerRecord]) -> bool:
        """Store the rows one by one; set aside, for a human, those the store refuses."""
        refused: list[LedgerRecord] = []
        for row in rows:
            try:
                await asyncio.wait_for(self._store.append_ignoring_duplicates([row]), self._timeout)
            except Rejected:
                refused.append(row)
            except Exception as exc:
                self._mark_down(exc)
                return False
        if not refused:
            return True
        await asyncio.to_thread(self._spool.reject, refused)
        log.error("ledger store refused %d rows for good; kept in %s/rejected-*.jsonl", len(refused), self.spool_dir)
        return True

    async def _spill(self, rows: list[LedgerRecord]) -> bool:
        if not rows:
            return True
        try:
            await asyncio.to_thread(self._spool.append, rows)
        except OSError:
            log.exception("ledger spool %s unwritable; %d rows kept in memory", self.spool_dir, len(rows))
            self._buffer[:0] = rows
            return False
        finally:
            self._in_flight -= len(rows)  # spooled, or back in the buffer
        return True

    async def _spill_overflow(self, rows: list[LedgerRecord]) -> None:
        try:
            if not await self._spill(rows):
                await asyncio.sleep(self._retry_interval)  # not at every record() while the disk fails
        finally:
            self._overflow = None

    def _take(self, n: int | None = None) -> list[LedgerRecord]:
        """Remove and return the first `n` buffered rows (all by default), synchronously."""
        n = len(self._buffer) if n is None else n
        rows = self._buffer[:n]
        del self._buffer[:n]
        self._in_flight += len(rows)
        return rows

    def _mark_down(self, exc: BaseException) -> None:
        if not self._down:
            log.error("ledger store unavailable (%r); spooling rows to %s", exc, self.spool_dir)
        self._down = True
        self._retry_at = time.monotonic() + self._retry_interval

    def _mark_up(self) -> None:
        if self._down:
            log.warning("ledger store available again")
        self._down = False
