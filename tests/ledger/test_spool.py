"""The ledger spool: rows the store cannot take wait on disk and are replayed exactly once."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import msgspec
import pytest
from sqlalchemy import text

from envelope.ledger.record import LedgerRecord
from envelope.ledger.spool import Spool, default_spool_dir
from envelope.ledger.writer import SPILL_FACTOR, LedgerWriter
from envelope.store.memory import MemoryStore
from envelope.store.sql import SQLStore
from tests.store.databases import SQL_KINDS, Database, empty_database
from tests.store.test_contract import record

REPO = Path(__file__).resolve().parents[2]


class SwitchableStore(MemoryStore):
    """A memory store that can be taken away (every write raises) and brought back."""

    def __init__(self, *, down: bool = False) -> None:
        super().__init__()
        self.down = down

    async def append(self, records: list[LedgerRecord]) -> None:
        if self.down:
            raise ConnectionError("store away")
        await super().append(records)

    async def append_ignoring_duplicates(self, records: list[LedgerRecord]) -> None:
        if self.down:
            raise ConnectionError("store away")
        await super().append_ignoring_duplicates(records)


def spooled_ids(directory: Path) -> list[str]:
    return [
        json.loads(line)["request_id"]
        for path in sorted(directory.glob("ledger-*.jsonl"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.01)


def writer_for(store: MemoryStore | SQLStore, spool_dir: Path, *, batch_size: int = 10) -> LedgerWriter:
    return LedgerWriter(store, batch_size=batch_size, flush_interval_s=0.01, spool_dir=spool_dir, retry_interval_s=0.02)


@pytest.fixture(params=SQL_KINDS)
async def sql_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with empty_database(request.param, tmp_path / "db") as db:
        yield db


async def test_rows_wait_in_the_spool_while_the_store_is_away_then_are_replayed(tmp_path: Path) -> None:
    store = SwitchableStore(down=True)
    writer = writer_for(store, tmp_path)
    writer.start()
    for i in range(25):
        writer.record(record(str(i)))

    async def all_spooled() -> bool:
        return len(spooled_ids(tmp_path)) == 25 and writer.pending == 0

    await eventually(all_spooled)
    assert await store.count() == 0
    writer.record(record("while-away"))

    store.down = False

    async def all_stored() -> bool:
        return await store.count() == 26

    await eventually(all_stored)
    assert spooled_ids(tmp_path) == [] and not list(tmp_path.glob("ledger-*.jsonl"))
    await writer.close()
    assert await store.count() == 26


async def test_close_with_the_store_away_leaves_rows_in_the_spool_for_the_next_start(tmp_path: Path) -> None:
    store = SwitchableStore(down=True)
    writer = LedgerWriter(store, batch_size=100, flush_interval_s=3600, spool_dir=tmp_path)
    writer.start()
    for i in range(7):
        writer.record(record(str(i)))
    await writer.close()
    assert sorted(spooled_ids(tmp_path)) == [str(i) for i in range(7)]

    store.down = False
    later = LedgerWriter(store, batch_size=100, flush_interval_s=3600, spool_dir=tmp_path)
    later.start()
    await eventually(lambda: _count_is(store, 7))
    await later.close()
    assert spooled_ids(tmp_path) == []


async def _count_is(store: MemoryStore | SQLStore, n: int) -> bool:
    return await store.count() == n


async def test_replay_skips_rows_already_stored(sql_db: Database, tmp_path: Path) -> None:
    """A crash after the store took a spooled batch but before the spool file went away."""
    spool_dir = tmp_path / "spool"
    rows = [record(f"r{i}") for i in range(20)]
    left = Spool(spool_dir)
    left.append(rows)
    left.close()  # the process "died": its file stays, unlocked

    store = sql_db.store()
    await store.open()
    try:
        await store.append(rows[:10])  # these made it before the "crash"
        for _ in range(2):  # and replaying the same spool twice changes nothing either
            writer = writer_for(store, spool_dir)
            writer.start()
            await eventually(lambda: _no_spool_files(spool_dir))
            await writer.close()
            assert await store.count() == 20
            assert not list(spool_dir.glob("rejected-*"))  # skipped as duplicates, not refused
            again = Spool(spool_dir)
            again.append(rows)
            again.close()
    finally:
        await store.close()


async def _no_spool_files(directory: Path) -> bool:
    return not list(directory.glob("ledger-*.jsonl"))


_SPOOL_THEN_HANG = """
import asyncio, sys
from pathlib import Path
from envelope.ledger.writer import LedgerWriter
from envelope.store.memory import MemoryStore
from tests.store.test_contract import record

class Away(MemoryStore):
    async def append(self, records):
        raise ConnectionError("store away")

    append_ignoring_duplicates = append

async def main():
    writer = LedgerWriter(Away(), batch_size=7, flush_interval_s=0.01, spool_dir=Path(sys.argv[1]))
    writer.start()
    for i in range(30):
        writer.record(record(f"killed-{i}"))
    await writer.flush()
    print("spooled", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_a_spool_left_by_a_killed_process_is_replayed_on_start(sql_db: Database, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _SPOOL_THEN_HANG, str(spool_dir), stdout=asyncio.subprocess.PIPE, cwd=REPO
    )
    assert child.stdout is not None
    assert await asyncio.wait_for(child.stdout.readline(), 30) == b"spooled\n"

    # While the child lives, its file is locked: another writer leaves it alone.
    probe = Spool(spool_dir)
    assert probe.claim() == []
    probe.close()

    child.send_signal(signal.SIGKILL)
    await child.wait()
    assert len(spooled_ids(spool_dir)) == 30

    store = sql_db.store()
    await store.open()
    try:
        writer = writer_for(store, spool_dir)
        writer.start()
        await eventually(lambda: _no_spool_files(spool_dir))
        await writer.close()
        assert await store.count() == 30
    finally:
        await store.close()


async def test_a_live_writers_spool_is_not_taken_by_another(tmp_path: Path) -> None:
    shared = SwitchableStore()
    away = SwitchableStore(down=True)
    a = writer_for(away, tmp_path)
    a.start()
    for i in range(5):
        a.record(record(f"a{i}"))
    await eventually(lambda: _spooled_count_is(tmp_path, 5))

    b = writer_for(shared, tmp_path)
    b.start()
    await b.flush()
    assert await shared.count() == 0  # a's file is locked while a lives
    await a.close()  # a leaves, its store still away: the file stays, unlocked
    await b.flush()
    assert await shared.count() == 5
    await b.close()
    assert spooled_ids(tmp_path) == []


async def _spooled_count_is(directory: Path, n: int) -> bool:
    return len(spooled_ids(directory)) == n


class HangingStore(MemoryStore):
    """Its first write never answers until released, like a database behind a dead link."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def append(self, records: list[LedgerRecord]) -> None:
        await self.release.wait()
        await super().append(records)


async def test_memory_stays_bounded_while_a_write_hangs(tmp_path: Path) -> None:
    store = HangingStore()
    writer = LedgerWriter(store, batch_size=10, flush_interval_s=0.01, spool_dir=tmp_path, write_timeout_s=60)
    writer.start()
    for i in range(10 * SPILL_FACTOR + 50):
        writer.record(record(str(i)))
        if i % 10 == 0:
            await asyncio.sleep(0)

    async def spilled() -> bool:
        return len(spooled_ids(tmp_path)) >= 10 * SPILL_FACTOR - 10

    await eventually(spilled)
    assert writer.pending < 10 * SPILL_FACTOR
    store.release.set()
    await eventually(lambda: _count_is(store, 10 * SPILL_FACTOR + 50))
    await writer.close()
    assert await store.count() == 10 * SPILL_FACTOR + 50


class StoresThenHangs(MemoryStore):
    """Takes the rows, then never answers: the writer cannot know the rows are in."""

    def __init__(self) -> None:
        super().__init__()
        self.replays = 0

    async def append(self, records: list[LedgerRecord]) -> None:
        await super().append(records)
        await asyncio.sleep(3600)

    async def append_ignoring_duplicates(self, records: list[LedgerRecord]) -> None:
        self.replays += 1
        await super().append_ignoring_duplicates(records)


async def test_a_write_whose_answer_is_lost_is_not_counted_twice(tmp_path: Path) -> None:
    store = StoresThenHangs()
    writer = LedgerWriter(
        store, batch_size=5, flush_interval_s=0.01, spool_dir=tmp_path, write_timeout_s=0.05, retry_interval_s=0.02
    )
    writer.start()
    for i in range(5):
        writer.record(record(str(i)))

    async def replayed() -> bool:
        return store.replays > 0 and spooled_ids(tmp_path) == []

    await eventually(replayed)  # timed out, spooled, replayed into a store that had the rows
    await writer.close()
    assert await store.count() == 5


async def test_rows_the_store_refuses_are_set_aside_and_the_rest_stored(tmp_path: Path) -> None:
    async with empty_database("postgresql", tmp_path / "db") as db:
        store = db.store()
        await store.open()
        try:
            writer = writer_for(store, tmp_path / "spool")
            writer.start()
            for i in range(10):
                writer.record(
                    record(str(i)) if i != 4 else msgspec.structs.replace(record("4"), degradations="x" * 600)
                )
            await eventually(lambda: _count_is(store, 9))
            writer.record(record("after"))  # the store is not taken for away
            await eventually(lambda: _count_is(store, 10))
            await writer.close()
        finally:
            await store.close()
    (rejected,) = (tmp_path / "spool").glob("rejected-*.jsonl")
    assert [json.loads(line)["request_id"] for line in rejected.read_text().splitlines()] == ["4"]
    assert spooled_ids(tmp_path / "spool") == []


async def test_a_torn_last_line_is_set_aside_and_the_rest_replayed(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([record("a"), record("b")])
    spool.close()
    (path,) = tmp_path.glob("ledger-*.jsonl")
    with path.open("ab") as f:
        f.write(b'{"request_id": "c", "ts": 1.')  # the process died mid-write
    store = SwitchableStore()
    writer = writer_for(store, tmp_path)
    writer.start()
    await eventually(lambda: _count_is(store, 2))
    await writer.close()
    (rejected,) = tmp_path.glob("rejected-*.jsonl")
    assert rejected.read_text().startswith('{"request_id": "c"')


async def test_the_database_going_away_for_real(sql_db: Database, tmp_path: Path) -> None:
    """The ledger table disappears (renamed from another connection), then comes back."""
    store = sql_db.store()
    await store.open()
    admin = sql_db.engine()
    spool_dir = tmp_path / "spool"
    try:
        writer = writer_for(store, spool_dir)
        writer.start()
        for i in range(15):
            writer.record(record(f"before-{i}"))
        await eventually(lambda: _count_is(store, 15))
        async with admin.begin() as conn:
            await conn.execute(text("ALTER TABLE ledger RENAME TO ledger_away"))
        for i in range(23):
            writer.record(record(f"during-{i}"))
        await eventually(lambda: _spooled_count_is(spool_dir, 23))
        async with admin.begin() as conn:
            await conn.execute(text("ALTER TABLE ledger_away RENAME TO ledger"))
        await eventually(lambda: _count_is(store, 38))
        await writer.close()
        assert await store.count() == 38
        assert spooled_ids(spool_dir) == []
    finally:
        await admin.dispose()
        await store.close()


async def test_a_store_closed_mid_run(sql_db: Database, tmp_path: Path) -> None:
    """The engine is disposed under the writer (every write raises), then the store reopens."""
    store = sql_db.store()
    await store.open()
    spool_dir = tmp_path / "spool"
    try:
        writer = writer_for(store, spool_dir)
        writer.start()
        writer.record(record("first"))
        await eventually(lambda: _count_is(store, 1))
        await store.close()
        for i in range(12):
            writer.record(record(f"closed-{i}"))
        await eventually(lambda: _spooled_count_is(spool_dir, 12))
        await store.open()
        await eventually(lambda: _count_is(store, 13))
        await writer.close()
    finally:
        await store.close()


async def test_postgresql_connections_killed_under_the_writer(tmp_path: Path) -> None:
    """Like a database restart: the server terminates every connection the store holds."""
    async with empty_database("postgresql", tmp_path / "db") as db:
        tag = f"envelope-test-{uuid.uuid4().hex}"
        settings = {**db.connect_args["server_settings"], "application_name": tag}
        store = SQLStore(db.url, connect_args={"server_settings": settings})
        await store.open()
        admin = db.engine()
        try:
            writer = writer_for(store, tmp_path / "spool")
            writer.start()
            for i in range(10):
                writer.record(record(f"a{i}"))
            await eventually(lambda: _count_is(store, 10))
            async with admin.begin() as conn:
                killed = await conn.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :tag"),
                    {"tag": tag},
                )
                assert killed.all()  # only this store's connections
            for i in range(10):
                writer.record(record(f"b{i}"))
            await eventually(lambda: _count_is(store, 20))
            await writer.close()
        finally:
            await admin.dispose()
            await store.close()


def test_the_default_spool_sits_beside_a_sqlite_file(tmp_path: Path) -> None:
    assert default_spool_dir(f"sqlite+aiosqlite:///{tmp_path}/x/ledger.db") == tmp_path / "x" / ".envelope-spool"
    assert default_spool_dir("postgresql+asyncpg://u@h/db") == Path.cwd() / ".envelope-spool"
    assert default_spool_dir("sqlite+aiosqlite://") == Path.cwd() / ".envelope-spool"
