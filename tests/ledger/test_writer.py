from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from envelope.ledger.record import LedgerRecord
from envelope.ledger.writer import LedgerWriter
from envelope.store.memory import MemoryStore
from tests.store.test_contract import record


class FlakyStore(MemoryStore):
    """Fails its first `failures` appends, like a database that is briefly away."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.batches: list[int] = []

    async def append(self, records: list[LedgerRecord]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("store away")
        self.batches.append(len(records))
        await super().append(records)


async def test_a_full_batch_is_written_without_waiting_for_the_interval(tmp_path: Path) -> None:
    store = FlakyStore(0)
    writer = LedgerWriter(store, batch_size=5, flush_interval_s=3600, spool_dir=tmp_path)
    writer.start()
    for i in range(12):
        writer.record(record(str(i)))
    await asyncio.sleep(0.05)
    assert sum(store.batches) >= 10  # written before the far-off interval
    await writer.close()
    assert await store.count() == 12


async def test_the_interval_flushes_a_partial_batch(tmp_path: Path) -> None:
    store = FlakyStore(0)
    writer = LedgerWriter(store, batch_size=1000, flush_interval_s=0.02, spool_dir=tmp_path)
    writer.start()
    writer.record(record("a"))
    await asyncio.sleep(0.1)
    assert await store.count() == 1
    await writer.close()


async def test_failed_batches_are_spooled_then_replayed(tmp_path: Path) -> None:
    store = FlakyStore(failures=2)
    writer = LedgerWriter(store, batch_size=1000, flush_interval_s=0.01, spool_dir=tmp_path, retry_interval_s=0.01)
    writer.start()
    for i in range(3):
        writer.record(record(str(i)))
    for _ in range(100):
        if await store.count() == 3:
            break
        await asyncio.sleep(0.02)
    assert await store.count() == 3
    assert writer.pending == 0
    await writer.close()


async def test_close_writes_everything_left(tmp_path: Path) -> None:
    store = FlakyStore(0)
    writer = LedgerWriter(store, batch_size=1000, flush_interval_s=3600, spool_dir=tmp_path)
    writer.start()
    for i in range(7):
        writer.record(record(str(i)))
    assert await store.count() == 0
    await writer.close()
    assert await store.count() == 7


@pytest.mark.parametrize("n", [0, 1])
async def test_close_without_records(n: int, tmp_path: Path) -> None:
    store = FlakyStore(0)
    writer = LedgerWriter(store, batch_size=10, flush_interval_s=3600, spool_dir=tmp_path)
    writer.start()
    for i in range(n):
        writer.record(record(str(i)))
    await writer.close()
    assert await store.count() == n
