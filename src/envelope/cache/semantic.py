"""The semantic cache of one replica: its index, kept in step with the other replicas.

With a `redis://` cache store every change to an index — an addition, an entry found
stale or wrong, a purge — is also written to a shared feed (a Redis stream). A
replica that starts reads the feed from its beginning to seed its index, then reads
what the others added every `sync_interval_s`; its own records it skips. The answers
themselves stay in the shared answer store, under their exact-cache keys, so a
replica serves another's answer as soon as it knows the question. With `memory://`
there is one process and no feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Literal

import msgspec
import numpy as np

from envelope.cache.ports import STORE_ERRORS, IndexFeed
from envelope.cache.semantic_index import Candidate, Entry, SemanticIndex, Vector

log = logging.getLogger("envelope.cache")
PAGE = 1000


class Record(msgspec.Struct, array_like=True, omit_defaults=True):
    op: Literal["add", "drop", "purge"]
    origin: str
    partition: str = ""
    key: str = ""
    text: str = ""
    vector: bytes = b""
    expires: float = 0.0
    tenant: str | None = None
    route: str | None = None


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(Record).decode


class SemanticCache:
    def __init__(self, index: SemanticIndex, feed: IndexFeed | None, *, sync_interval_s: float) -> None:
        self.index = index
        self._feed = feed
        self._interval = sync_interval_s
        self._origin = os.urandom(8).hex()
        self._cursor = ""
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Seed the index from the feed, then follow it."""
        if self._feed is None:
            return
        try:
            await self.sync()
        except STORE_ERRORS as exc:
            log.warning("semantic cache: could not seed the index from the cache store (%s); starting empty", exc)
        self._task = asyncio.create_task(self._follow(), name="semantic-cache-feed")

    def search(self, partition: str, vector: Vector, *, k: int) -> list[Candidate]:
        return self.index.search(partition, vector, k=k)

    async def add(self, partition: str, vector: Vector, entry: Entry) -> None:
        self.index.add(partition, vector, entry)
        vector_bytes = np.ascontiguousarray(vector, dtype=np.float32).tobytes()
        await self._publish(Record("add", self._origin, partition, entry.key, entry.text, vector_bytes, entry.expires))

    async def drop(self, partition: str, key: str) -> None:
        """Forget the questions whose answer is `key` (gone from the store, or wrong)."""
        self.index.discard(partition, key)
        await self._publish(Record("drop", self._origin, partition, key))

    async def purge(self, tenant: str | None, route: str | None) -> int:
        dropped = self.index.purge(tenant, route)
        await self._publish(Record("purge", self._origin, tenant=tenant, route=route))
        return dropped

    async def sync(self) -> int:
        """Apply the feed's records not yet seen; how many were the other replicas'."""
        assert self._feed is not None
        applied = 0
        while True:
            page = await self._feed.read(self._cursor, PAGE)
            records = []
            for record_id, data in page:
                self._cursor = record_id
                try:
                    record = _decode(data)
                except msgspec.DecodeError:
                    log.warning("semantic cache: skipped an unreadable feed record %s", record_id)
                    continue
                if record.origin != self._origin:
                    records.append(record)
            self._apply(records)
            applied += len(records)
            if len(page) < PAGE:
                return applied

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._feed is not None:
            await self._feed.close()

    def _apply(self, records: list[Record]) -> None:
        """Apply records in order; runs of additions go in one batch per partition."""
        adding: dict[str, tuple[list[Vector], list[Entry]]] = {}
        for record in records:
            if record.op == "add":
                vector = np.frombuffer(record.vector, dtype=np.float32)
                if vector.shape == (self.index.dim,):
                    vectors, entries = adding.setdefault(record.partition, ([], []))
                    vectors.append(vector)
                    entries.append(Entry(record.key, record.text, record.expires))
                continue
            self._add_all(adding)
            if record.op == "drop":
                self.index.discard(record.partition, record.key)
            else:
                self.index.purge(record.tenant, record.route)
        self._add_all(adding)

    def _add_all(self, adding: dict[str, tuple[list[Vector], list[Entry]]]) -> None:
        for partition, (vectors, entries) in adding.items():
            self.index.add_many(partition, np.stack(vectors), entries)
        adding.clear()

    async def _publish(self, record: Record) -> None:
        if self._feed is None:
            return
        try:
            await self._feed.publish(_encode(record))
        except STORE_ERRORS as exc:  # the other replicas learn of it later, or never: a miss there
            log.debug("semantic cache feed unavailable: %s", exc)

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.sync()
            except STORE_ERRORS as exc:
                log.debug("semantic cache feed unavailable: %s", exc)
