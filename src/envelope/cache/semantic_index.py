"""The semantic cache's index: earlier questions by meaning, one HNSW graph per scope.

A *partition* holds the questions that could share answers: the same tenant, route,
config version, model, sampling parameters, tools, system prompt and earlier turns
(`core/cache_key.partition`). A search only ever looks inside the request's own
partition, so a hit can never cross a tenant or a scope, whatever the vectors say.

Each partition is a faiss `IndexHNSWFlat` over unit vectors with inner-product
metric (cosine similarity). HNSW cannot delete, so an entry that expires, is evicted or
is purged becomes a tombstone (its slot is emptied); a partition whose tombstones
outnumber its live entries is rebuilt from the live ones. Past `max_entries` the
oldest entries are evicted first.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np

from envelope.core.cache_key import owned

Vector = np.ndarray[Any, np.dtype[np.float32]]
DIM = 384  # all-MiniLM-L6-v2
REBUILD_MIN_DEAD = 64


@dataclass(frozen=True, slots=True)
class Entry:
    """A cached question: the exact-cache key of its answer and its own text (the guard
    compares it with the new question)."""

    key: str
    text: str
    expires: float  # wall clock (time.time()); not served after it


@dataclass(frozen=True, slots=True)
class Candidate:
    entry: Entry
    similarity: float


class _Slot:
    """An entry's place in its partition; emptied when the entry dies."""

    __slots__ = ("entry", "partition", "position")

    def __init__(self, entry: Entry, partition: _Partition, position: int) -> None:
        self.entry: Entry | None = entry
        self.partition = partition
        self.position = position


class _Partition:
    __slots__ = ("by_text", "dead", "graph", "name", "slots")

    def __init__(self, name: str, graph: Any) -> None:
        self.name = name
        self.graph = graph
        self.slots: list[_Slot] = []
        self.by_text: dict[str, _Slot] = {}
        self.dead = 0

    @property
    def live(self) -> int:
        return len(self.slots) - self.dead


class SemanticIndex:
    def __init__(
        self, *, max_entries: int, m: int = 32, ef_construction: int = 48, ef_search: int = 64, dim: int = DIM
    ) -> None:
        self._max = max_entries
        self._m, self._ef_construction, self._ef_search, self.dim = m, ef_construction, ef_search, dim
        self._partitions: dict[str, _Partition] = {}
        self._order: deque[_Slot] = deque()  # oldest first, for eviction
        self._live = 0

    def __len__(self) -> int:
        return self._live

    def add(self, partition: str, vector: Vector, entry: Entry) -> None:
        """Index `entry` under `vector` (unit length). The same question added again
        replaces the older entry."""
        self.add_many(partition, _row(vector), [entry])

    def add_many(self, partition: str, vectors: Vector, entries: list[Entry]) -> None:
        """Index several entries of one partition at once (one graph insertion, which
        faiss spreads over its threads: how a replica seeds its index). A question
        asked twice in the batch, or already indexed, keeps only its latest entry."""
        latest = sorted({entry.text: i for i, entry in enumerate(entries)}.values())
        part = self._partitions.get(partition)
        if part is not None:
            # every slot dies before the graph grows: a rebuild that a death sets off
            # then only ever sees slots whose vectors are in the graph
            for i in latest:
                old = part.by_text.get(entries[i].text)
                if old is not None:
                    self._kill(old)  # may empty (and drop) the partition
            part = self._partitions.get(partition)
        if part is None:
            part = self._partitions[partition] = _Partition(partition, self._graph())
        rows = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(entries), self.dim)
        part.graph.add(rows[latest])
        for i in latest:
            slot = _Slot(entries[i], part, len(part.slots))
            part.slots.append(slot)
            part.by_text[entries[i].text] = slot
            self._order.append(slot)
            self._live += 1
        while self._live > self._max and self._order:
            self._kill(self._order.popleft())

    def search(self, partition: str, vector: Vector, *, k: int, now: float | None = None) -> list[Candidate]:
        """Up to `k` live entries of `partition` nearest `vector`, most similar first."""
        part = self._partitions.get(partition)
        if part is None:
            return []
        now = time.time() if now is None else now
        wanted = min(len(part.slots), k + min(part.dead, k))  # room for tombstones among the nearest
        similarities, positions = part.graph.search(_row(vector), wanted)
        found: list[Candidate] = []
        for similarity, position in zip(similarities[0].tolist(), positions[0].tolist(), strict=True):
            if position < 0:
                continue
            slot = part.slots[position]
            entry = slot.entry
            if entry is None:
                continue
            if entry.expires <= now:
                self._kill(slot)
                continue
            found.append(Candidate(entry, similarity))
            if len(found) == k:
                break
        return found

    def discard(self, partition: str, key: str) -> bool:
        """Drop the entries of `partition` whose answer is `key` (gone from the store, or
        found wrong); whether any was there."""
        part = self._partitions.get(partition)
        doomed = [s for s in part.slots if s.entry is not None and s.entry.key == key] if part else []
        for slot in doomed:
            self._kill(slot)
        return bool(doomed)

    def purge(self, tenant: str | None = None, route: str | None = None) -> int:
        """Drop every partition of `tenant` and/or `route` (all, if neither); entries dropped."""
        doomed = [p for p in self._partitions.values() if _matches(p.name, tenant, route)]
        dropped = 0
        for part in doomed:
            dropped += part.live
            self._live -= part.live
            for slot in part.slots:
                slot.entry = None
            del self._partitions[part.name]
        if not self._partitions:
            self._order.clear()
        return dropped

    def partitions(self) -> Iterator[str]:
        return iter(self._partitions)

    @property
    def tombstones(self) -> int:
        """Dead slots still in the graphs (until their partition is rebuilt)."""
        return sum(p.dead for p in self._partitions.values())

    def _graph(self) -> Any:
        graph = faiss.IndexHNSWFlat(self.dim, self._m, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = self._ef_construction
        graph.hnsw.efSearch = self._ef_search
        return graph

    def _kill(self, slot: _Slot) -> None:
        if slot.entry is None:
            return
        part = slot.partition
        if part.by_text.get(slot.entry.text) is slot:
            del part.by_text[slot.entry.text]
        slot.entry = None
        part.dead += 1
        self._live -= 1
        if part.live == 0:
            self._partitions.pop(part.name, None)
        elif part.dead >= REBUILD_MIN_DEAD and part.dead > part.live:
            self._rebuild(part)

    def _rebuild(self, part: _Partition) -> None:
        """A fresh graph of the live entries; their slots move to their new positions."""
        live = [s for s in part.slots if s.entry is not None]
        vectors = part.graph.reconstruct_batch(np.array([s.position for s in live], dtype=np.int64))
        part.graph = self._graph()
        part.graph.add(np.ascontiguousarray(vectors, dtype=np.float32))
        for position, slot in enumerate(live):
            slot.position = position
        part.slots = live
        part.dead = 0


def _row(vector: Vector) -> Vector:
    return np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)


def _matches(partition: str, tenant: str | None, route: str | None) -> bool:
    return owned(partition, tenant, route)
