"""What the gateway needs of storage, as protocols. Adapters: `memory.py`, `sql.py`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from envelope.batch.records import BatchItem, BatchRecord, BatchStatus, FileRecord, ItemStatus
from envelope.keys import KeyRecord
from envelope.ledger.record import LedgerRecord
from envelope.ledger.rollup import Dimension, Totals
from envelope.store.records import PayloadSample, ShadowRecord, TransitionRecord

VersionStatus = Literal["new", "active", "retired", "bad"]
AuditAction = Literal["apply", "rollback", "auto_rollback", "start"]


class Rejected(Exception):
    """The store answered but refused the values (too long, wrong type, duplicate): retrying will not help."""


class Conflict(Rejected):
    """A write that would duplicate a unique value (a key digest or id, a request id)."""


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

    async def rollup(
        self,
        by: Sequence[Dimension] = (),
        *,
        since: float | None = None,
        until: float | None = None,
        bucket_s: float | None = None,
        where: Mapping[Dimension, str] | None = None,
    ) -> list[Totals]:
        """Ledger totals per group of `by` values (None where a row has none) and, with
        `bucket_s`, per time bucket (`Totals.bucket` = its start, epoch seconds); rows with
        `since` <= ts < `until` whose dimensions equal `where`. Ordered by bucket, then group."""
        ...

    async def count(self) -> int: ...


@dataclass(frozen=True, slots=True)
class ConfigVersion:
    """One stored version of the config documents (`registry/documents.py` makes them).

    `status`: `new` (stored, never active), `active`, `retired` (was active, replaced),
    `bad` (rolled back from or marked bad; `bad_reason` says why). The pointer to the
    active version is the truth; `status` describes.
    """

    number: int
    digest: str  # sha256 of `documents`
    documents: str  # canonical JSON
    created_at: float
    actor: str
    message: str
    status: VersionStatus
    bad_reason: str | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One activation, as the audit log keeps it."""

    id: int
    ts: float
    actor: str
    action: AuditAction
    from_version: int | None
    to_version: int
    summary: str
    reason: str | None = None


class StaleActive(Conflict):
    """An activation expected another version to be active: someone activated in between."""


class UnknownVersion(LookupError):
    """No stored config version has this number."""


class RegistryStore(Protocol):
    """Versions of the config documents, the pointer to the active one, and the audit log."""

    async def add_version(
        self, digest: str, documents: str, *, actor: str, message: str, at: float
    ) -> tuple[ConfigVersion, bool]:
        """Store a new version (status `new`), numbered one past the highest; True when stored.

        A version with this digest is never stored twice: that one is returned, with False.
        """
        ...

    async def get_version(self, number: int) -> ConfigVersion | None: ...

    async def list_versions(self, limit: int | None = None) -> list[ConfigVersion]:
        """Newest (highest number) first."""
        ...

    async def active_version(self) -> int | None:
        """The active version's number (one small read: gateways poll it)."""
        ...

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
        """Make `number` active in one transaction: the pointer, the statuses, the audit row.

        `expected` is the version the caller believes active (None: none); if another is,
        nothing changes and `StaleActive` is raised. The version replaced becomes `retired`,
        or `bad` with `bad_reason` when one is given (a version already bad stays bad).
        `UnknownVersion` if there is no version `number`.
        """
        ...

    async def mark_bad(self, number: int, reason: str) -> bool:
        """Mark a version bad (it stays active if it is); False if there is no such version."""
        ...

    async def audit_log(self, limit: int | None = None) -> list[AuditEntry]:
        """Newest first."""
        ...


class ControlStore(Protocol):
    """What the control plane keeps: transitions, shadow results (written in the background)."""

    async def add_transition(self, record: TransitionRecord) -> None: ...

    async def transitions(self, since: float | None = None, scope: str | None = None) -> list[TransitionRecord]:
        """Oldest first; `scope` matches as a prefix (`route:`, `route:default`)."""
        ...

    async def add_shadow(self, record: ShadowRecord) -> None: ...

    async def shadows(self, route: str | None = None, since: float | None = None) -> list[ShadowRecord]:
        """Oldest first."""
        ...


class SampleStore(Protocol):
    """Sampled payloads for replay (`ledger/samples.py`)."""

    async def add_samples(self, samples: list[PayloadSample]) -> None:
        """Write a batch; a request id already stored is skipped."""
        ...

    async def list_samples(
        self, *, since: float | None = None, route: str | None = None, limit: int | None = None
    ) -> list[PayloadSample]:
        """Oldest first (the most recent `limit` when a limit is given)."""
        ...


class BatchStore(Protocol):
    """Files and batches of the batch API (`batch/`). Each item is settled once: a settle
    applies only to an item still pending, so two workers (or one after a restart)
    never answer an item twice."""

    async def add_file(self, record: FileRecord, content: bytes) -> None:
        """Store a file; one with the same id already stored is kept (a retried finish)."""
        ...

    async def get_file(self, file_id: str) -> FileRecord | None: ...

    async def file_content(self, file_id: str) -> bytes | None: ...

    async def list_files(self, tenant: str, purpose: str | None = None) -> list[FileRecord]:
        """Newest first."""
        ...

    async def delete_file(self, file_id: str) -> bool: ...

    async def add_batch(self, record: BatchRecord, items: Sequence[BatchItem]) -> None:
        """Store a batch and all its items in one transaction."""
        ...

    async def get_batch(self, batch_id: str) -> BatchRecord | None: ...

    async def list_batches(self, tenant: str) -> list[BatchRecord]:
        """Newest first."""
        ...

    async def cancel_batch(self, batch_id: str, at: float) -> BatchRecord | None:
        """Ask for a cancel: a batch validating or in progress becomes `cancelling` (the
        worker finishes it; a parked one may be taken at once); any other is left as it is.
        The batch as it is after; None if unknown."""
        ...

    async def claim_batch(self, owner: str, *, now: float, lease_s: float) -> BatchRecord | None:
        """Lease one open batch (in progress, finalizing or cancelling) to `owner` until
        `now + lease_s`: one whose lease is free, expired or already `owner`'s, oldest first."""
        ...

    async def renew_lease(self, batch_id: str, owner: str, until: float) -> bool:
        """Extend `owner`'s lease; False if the batch is no longer leased to `owner`."""
        ...

    async def park_batch(self, batch_id: str, owner: str, until: float) -> bool:
        """`owner` gives its lease up until `until`: no worker takes the batch before then
        unless it is cancelled. False if the batch was not `owner`'s."""
        ...

    async def next_due(self, batch_id: str) -> float | None:
        """The earliest retry time of the pending items (0 for one due at once); None if none is pending."""
        ...

    async def due_items(self, batch_id: str, *, now: float, limit: int) -> list[BatchItem]:
        """Pending items whose retry time (if any) has come, in line order."""
        ...

    async def defer_item(self, batch_id: str, index: int, *, attempts: int, next_attempt_at: float) -> None:
        """A pending item failed an attempt and waits until `next_attempt_at`."""
        ...

    async def settle_item(
        self,
        batch_id: str,
        index: int,
        *,
        status: ItemStatus,
        attempts: int,
        status_code: int,
        response: str,
        request_id: str | None,
        at: float,
    ) -> bool:
        """Record an item's outcome and count it on its batch, in one transaction; False
        (nothing changed) if the item was no longer pending."""
        ...

    async def list_items(self, batch_id: str) -> list[BatchItem]:
        """All items, in line order."""
        ...

    async def finish_batch(
        self,
        batch_id: str,
        *,
        status: BatchStatus,
        at: float,
        leftover: ItemStatus | None,
        files: Sequence[tuple[FileRecord, bytes]],
        output_file_id: str | None,
        error_file_id: str | None,
    ) -> None:
        """End a batch in one transaction: items still pending become `leftover`, the
        output and error files are stored, the status and its time are set, the lease dropped."""
        ...


class Store(KeyStore, LedgerStore, RegistryStore, ControlStore, SampleStore, BatchStore, Protocol):
    async def open(self) -> None:
        """Connect, and bring the schema up to date (idempotent, safe with several processes)."""
        ...

    async def close(self) -> None: ...
