"""In-memory store: the fake beside the real adapters, for tests and throwaway runs."""

from __future__ import annotations

import dataclasses
from collections import defaultdict

from envelope.keys import KeyRecord
from envelope.ledger.record import LedgerRecord
from envelope.store.ports import Conflict, CostLine, GroupBy


class MemoryStore:
    def __init__(self) -> None:
        self._keys: dict[str, KeyRecord] = {}
        self._ledger: list[LedgerRecord] = []
        self._ids: set[str] = set()

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def add(self, record: KeyRecord, digest: str) -> None:
        if digest in self._keys or any(k.id == record.id for k in self._keys.values()):
            raise Conflict(f"key {record.id} exists")
        self._keys[digest] = record

    async def find(self, digest: str) -> KeyRecord | None:
        return self._keys.get(digest)

    async def revoke(self, key_id: str, at: float) -> bool:
        for digest, record in self._keys.items():
            if record.id == key_id and record.active:
                self._keys[digest] = dataclasses.replace(record, revoked_at=at)
                return True
        return False

    async def list_keys(self, tenant: str | None = None) -> list[KeyRecord]:
        records = [r for r in self._keys.values() if tenant is None or r.tenant == tenant]
        return sorted(records, key=lambda r: (r.created_at, r.id))

    async def append(self, records: list[LedgerRecord]) -> None:
        ids = [r.request_id for r in records]
        if len(set(ids)) != len(ids) or self._ids.intersection(ids):
            raise Conflict("a ledger batch repeats a request id")  # like the SQL primary key: all or nothing
        self._ledger.extend(records)
        self._ids.update(ids)

    async def append_ignoring_duplicates(self, records: list[LedgerRecord]) -> None:
        for r in records:
            if r.request_id not in self._ids:
                self._ledger.append(r)
                self._ids.add(r.request_id)

    async def summarize(self, by: GroupBy, since: float | None = None) -> list[CostLine]:
        groups: dict[str, list[LedgerRecord]] = defaultdict(list)
        for r in self._ledger:
            if since is None or r.ts >= since:
                groups[str(getattr(r, by) or "-")].append(r)
        lines = [
            CostLine(
                group=name,
                requests=len(rows),
                errors=sum(1 for r in rows if r.status >= 400),
                input_tokens=sum(r.input_tokens for r in rows),
                output_tokens=sum(r.output_tokens for r in rows),
                cost_usd=sum(r.cost_usd for r in rows),
                mean_latency_ms=sum(r.latency_ms for r in rows) / len(rows),
            )
            for name, rows in groups.items()
        ]
        return sorted(lines, key=lambda line: (-line.cost_usd, line.group))

    async def count(self) -> int:
        return len(self._ledger)
