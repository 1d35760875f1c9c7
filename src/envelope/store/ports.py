"""What the gateway needs of storage, as protocols. Adapters: `memory.py`, `sql.py`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from envelope.keys import KeyRecord
from envelope.ledger.record import LedgerRecord

GroupBy = Literal["tenant", "route", "feature", "model"]


class Rejected(Exception):
    """The store answered but refused the values (too long, wrong type, duplicate): retrying will not help."""


class Conflict(Rejected):
    """A write that would duplicate a unique value (a key digest or id, a request id)."""


@dataclass(frozen=True, slots=True)
class CostLine:
    """One line of a cost report: totals for one group."""

    group: str
    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    mean_latency_ms: float


class KeyStore(Protocol):
    async def add(self, record: KeyRecord, digest: str) -> None: ...

    async def find(self, digest: str) -> KeyRecord | None:
        """The key with this digest, revoked or not; None if unknown."""
        ...

    async def revoke(self, key_id: str, at: float) -> bool:
        """Mark a key revoked; False if there is no such active key."""
        ...

    async def list_keys(self, tenant: str | None = None) -> list[KeyRecord]: ...


class LedgerStore(Protocol):
    async def append(self, records: list[LedgerRecord]) -> None:
        """Write a batch atomically: all rows or none; `Conflict` if a request id is already stored."""
        ...

    async def append_ignoring_duplicates(self, records: list[LedgerRecord]) -> None:
        """Write the rows whose request id is not stored yet (atomically); skip the others.

        Replaying a spooled batch goes through here, so a batch that reached the store
        before a crash (or before a timeout hid its success) is never written twice.
        """
        ...

    async def summarize(self, by: GroupBy, since: float | None = None) -> list[CostLine]: ...

    async def count(self) -> int: ...


class Store(KeyStore, LedgerStore, Protocol):
    async def open(self) -> None:
        """Connect, and bring the schema up to date (idempotent, safe with several processes)."""
        ...

    async def close(self) -> None: ...
