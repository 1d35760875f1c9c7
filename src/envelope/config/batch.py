"""The batch API's settings (`gateway.batch`): the worker that drains batches."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from envelope.config.base import Document


class BatchDoc(Document):
    """Batches run item by item through the chat (or embeddings) pipeline as the key that
    created them, at `priority` (admission sheds lower priorities first), under the
    tenant's and route's own limits and budget, at most `concurrency` at a time per replica."""

    enabled: bool = Field(default=True, description="Run the batch worker in this gateway process")
    concurrency: int = Field(default=4, ge=1, le=256, description="Items in flight at once, per replica")
    priority: Literal["high", "normal", "low"] = Field(default="low", description="Admission priority of items")
    poll_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="How often an idle worker looks for batches made elsewhere (one made here starts at once)",
    )
    lease_s: float = Field(
        default=30.0, gt=0, description="A worker's claim on a batch; another takes it over when it lapses"
    )
    max_attempts: int = Field(default=3, ge=1, le=20, description="Tries per item on retryable failures")
    retry_backoff_s: float = Field(default=2.0, ge=0, description="Wait before the second try; doubles each time")
    max_file_bytes: int = Field(default=100 * 1024 * 1024, ge=1024, description="Largest file accepted")
    max_items: int = Field(default=50_000, ge=1, description="Most requests in one batch")
