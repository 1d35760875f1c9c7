"""What the batch API keeps: uploaded files, batches and their items, as plain values.

A batch's items are stored one row each when the batch is created; the worker
(`batch/worker.py`) settles each one exactly once (pending → done | failed), so a
restart resumes with the items still pending and never answers one twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FilePurpose = Literal["batch", "batch_output", "batch_error"]
BatchStatus = Literal[
    "validating", "failed", "in_progress", "finalizing", "completed", "expired", "cancelling", "cancelled"
]
ItemStatus = Literal["pending", "done", "failed", "cancelled", "expired"]
# A batch the worker still has to act on (run items, or write its files after a cancel).
OPEN_STATUSES: tuple[BatchStatus, ...] = ("in_progress", "finalizing", "cancelling")
TERMINAL_STATUSES: tuple[BatchStatus, ...] = ("failed", "completed", "expired", "cancelled")
# The lease owner of a batch set aside until its `lease_until` (every pending item waits on
# a limit until then): no worker holds it, and none takes it earlier unless it is cancelled.
PARKED = ""


@dataclass(frozen=True, slots=True)
class FileRecord:
    id: str
    tenant: str
    purpose: FilePurpose
    filename: str
    bytes: int
    created_at: float


@dataclass(frozen=True, slots=True)
class BatchRecord:
    id: str
    tenant: str
    key_id: str
    input_file_id: str
    endpoint: str  # /v1/chat/completions | /v1/embeddings
    completion_window: str
    status: BatchStatus
    created_at: float
    expires_at: float
    headers: str  # JSON object: the x-envelope-* headers the batch was created with (route, feature, ...)
    metadata: str | None = None  # JSON object, as the client gave it
    total: int = 0
    completed: int = 0
    failed: int = 0
    in_progress_at: float | None = None
    finalizing_at: float | None = None
    completed_at: float | None = None
    failed_at: float | None = None
    expired_at: float | None = None
    cancelling_at: float | None = None
    cancelled_at: float | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: str | None = None  # JSON list of {code, message, line}: why validation failed
    lease_owner: str | None = None
    lease_until: float | None = None


@dataclass(frozen=True, slots=True)
class BatchItem:
    batch_id: str
    index: int  # line number in the input file, from 0
    custom_id: str
    body: str  # the request body, JSON
    status: ItemStatus = "pending"
    attempts: int = 0
    status_code: int | None = None
    response: str | None = None  # the answer's body (JSON) or the error body
    request_id: str | None = None
    finished_at: float | None = None
    next_attempt_at: float | None = None  # a retried item waits until then
