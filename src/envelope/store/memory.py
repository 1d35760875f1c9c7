"""In-memory store: the fake beside the real adapters, for tests and throwaway runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from envelope.keys import KeyRecord
from envelope.ledger.record import LedgerRecord
from envelope.ledger.rollup import SUMMED, Dimension, Totals, fold, latency_bin
from envelope.store.batch_memory import BatchRecords
from envelope.store.ports import (
    AuditAction,
    AuditEntry,
    ConfigVersion,
    Conflict,
    StaleActive,
    UnknownVersion,
)
from envelope.store.records import PayloadSample, ShadowRecord, TransitionRecord


class MemoryStore(BatchRecords):
    def __init__(self) -> None:
        super().__init__()
        self._keys: dict[str, KeyRecord] = {}
        self._ledger: list[LedgerRecord] = []
        self._ids: set[str] = set()
        # No await between a read and its write below: each method is atomic on the event loop.
        self._versions: dict[int, ConfigVersion] = {}
        self._active: int | None = None
        self._audit: list[AuditEntry] = []
        self._transitions: list[TransitionRecord] = []
        self._shadows: list[ShadowRecord] = []
        self._samples: dict[str, PayloadSample] = {}

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

    async def rollup(
        self,
        by: Sequence[Dimension] = (),
        *,
        since: float | None = None,
        until: float | None = None,
        bucket_s: float | None = None,
        where: Mapping[Dimension, str] | None = None,
    ) -> list[Totals]:
        rows: list[dict[str, Any]] = []
        for r in self._ledger:
            if (since is not None and r.ts < since) or (until is not None and r.ts >= until):
                continue
            if where and any(getattr(r, d) != v for d, v in where.items()):
                continue
            row: dict[str, Any] = {d: getattr(r, d) for d in by}
            row |= {name: getattr(r, name) for name in SUMMED}
            row |= {"requests": 1, "errors": int(r.status >= 400), "lbin": latency_bin(r.latency_ms)}
            row["bucket"] = r.ts // bucket_s if bucket_s is not None else None
            rows.append(row)
        return fold(rows, by, bucket_s)

    async def count(self) -> int:
        return len(self._ledger)

    # --- registry ---

    async def add_version(
        self, digest: str, documents: str, *, actor: str, message: str, at: float
    ) -> tuple[ConfigVersion, bool]:
        for version in self._versions.values():
            if version.digest == digest:
                return version, False
        number = max(self._versions, default=0) + 1
        version = ConfigVersion(number, digest, documents, at, actor, message, "new")
        self._versions[number] = version
        return version, True

    async def get_version(self, number: int) -> ConfigVersion | None:
        return self._versions.get(number)

    async def list_versions(self, limit: int | None = None) -> list[ConfigVersion]:
        newest = sorted(self._versions.values(), key=lambda v: -v.number)
        return newest if limit is None else newest[:limit]

    async def active_version(self) -> int | None:
        return self._active

    async def activate(
        self,
        number: int,
        *,
        expected: int | None,
        actor: str,
        action: AuditAction,
        summary: str,
        reason: str | None,
        at: float,
        bad_reason: str | None = None,
    ) -> AuditEntry:
        if self._active != expected:
            raise StaleActive(f"version {self._active} is active, not {expected}")
        if number not in self._versions:
            raise UnknownVersion(f"no config version {number}")
        previous = self._versions.get(self._active) if self._active is not None else None
        if previous is not None and previous.number != number:
            if bad_reason is not None:
                self._versions[previous.number] = dataclasses.replace(previous, status="bad", bad_reason=bad_reason)
            elif previous.status != "bad":
                self._versions[previous.number] = dataclasses.replace(previous, status="retired")
        self._versions[number] = dataclasses.replace(self._versions[number], status="active", bad_reason=None)
        entry = AuditEntry(len(self._audit) + 1, at, actor, action, self._active, number, summary, reason)
        self._audit.append(entry)
        self._active = number
        return entry

    async def mark_bad(self, number: int, reason: str) -> bool:
        version = self._versions.get(number)
        if version is None:
            return False
        self._versions[number] = dataclasses.replace(version, status="bad", bad_reason=reason)
        return True

    async def audit_log(self, limit: int | None = None) -> list[AuditEntry]:
        newest = self._audit[::-1]
        return newest if limit is None else newest[:limit]

    # --- control plane and samples ---

    async def add_transition(self, record: TransitionRecord) -> None:
        self._transitions.append(record)

    async def transitions(self, since: float | None = None, scope: str | None = None) -> list[TransitionRecord]:
        found = [
            t
            for t in self._transitions
            if (since is None or t.ts >= since) and (scope is None or t.scope.startswith(scope))
        ]
        return sorted(found, key=lambda t: t.ts)

    async def add_shadow(self, record: ShadowRecord) -> None:
        self._shadows.append(record)

    async def shadows(self, route: str | None = None, since: float | None = None) -> list[ShadowRecord]:
        found = [s for s in self._shadows if (route is None or s.route == route) and (since is None or s.ts >= since)]
        return sorted(found, key=lambda s: s.ts)

    async def add_samples(self, samples: list[PayloadSample]) -> None:
        for sample in samples:
            self._samples.setdefault(sample.request_id, sample)

    async def list_samples(
        self, *, since: float | None = None, route: str | None = None, limit: int | None = None
    ) -> list[PayloadSample]:
        found = sorted(
            (
                s
                for s in self._samples.values()
                if (since is None or s.ts >= since) and (route is None or s.route == route)
            ),
            key=lambda s: s.ts,
        )
        return found[-limit:] if limit else found
