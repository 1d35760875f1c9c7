"""The batch worker: drains batches through the gateway's own pipeline, item by item.

Each replica runs one. A worker leases a batch (`BatchStore.claim_batch`), keeps the
lease alive while it works, and runs the batch's due items `concurrency` at a time as
the key that created the batch, at the batch priority (admission sheds it first) and
under the tenant's and route's own limits and budget. An item is settled once: done,
or failed after `max_attempts` tries of a retryable failure (429, 5xx), with a growing
wait between tries. If a worker dies, its lease lapses and another (or the same one
restarted) takes the batch over: settled items stay settled, pending ones run — at
worst an item that was in flight at the crash is sent upstream again, and its answer
is still written once. When nothing is left the worker writes the output and error
files and ends the batch (completed, cancelled, or expired) in one transaction.
A batch whose pending items all wait on a limit for longer than a poll (a tenant's
spent budget waits for its next period) is parked until the first of them is due, so
the worker goes on with other batches; a cancel makes it ready again at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

import msgspec

from envelope.batch.objects import result_files
from envelope.batch.records import BatchItem, BatchRecord, BatchStatus, FileRecord, ItemStatus
from envelope.config.batch import BatchDoc
from envelope.errors import AuthenticationFailed, EnvelopeError, UpstreamFailed
from envelope.keys import KeyRecord
from envelope.pipeline.chain import Chain
from envelope.pipeline.context import Operation, RequestContext
from envelope.store.ports import BatchStore, KeyStore

log = logging.getLogger("envelope.batch")
RETRYABLE = frozenset({408, 409, 500, 502, 503, 504})  # 429 waits for its limit instead
_OPERATIONS: dict[str, Operation] = {"/v1/chat/completions": "chat", "/v1/embeddings": "embeddings"}


class Serving(Protocol):
    """What the worker needs of the serving config (`bootstrap.Serving`)."""

    @property
    def version(self) -> int | None: ...

    @property
    def chains(self) -> Mapping[Operation, Chain]: ...


class Store(BatchStore, KeyStore, Protocol): ...


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int
    body: bytes
    request_id: str
    retry_after_s: float | None = None  # a limit said when to come back


class BatchWorker:
    def __init__(
        self,
        store: Store,
        serving: Callable[[], Serving],
        settings: BatchDoc,
        *,
        observe: Callable[[ItemStatus], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._serving = serving
        self._settings = settings
        self._observe = observe
        self._clock = clock
        self.owner = f"{socket.gethostname()[:32]}-{os.getpid()}-{os.urandom(3).hex()}"
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._nudged = asyncio.Event()  # a batch was created here: look now, not at the next poll

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="envelope-batch-worker")

    def nudge(self) -> None:
        """Look for work at once (a batch was created in this process)."""
        self._nudged.set()

    async def stop(self, grace_s: float = 10.0) -> None:
        """Take no new items; let those in flight finish for up to `grace_s`, then cancel them."""
        self._stopping.set()
        self._nudged.set()
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(self._task), grace_s)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                worked = await self.step()
            except Exception:  # the loop outlives a store outage or a bug in one batch
                log.exception("batch worker: step failed")
                worked = False
            if not worked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._nudged.wait(), self._settings.poll_interval_s)
                self._nudged.clear()

    async def step(self) -> bool:
        """Claim one batch and work on it until it ends or is lost; False when there was none."""
        batch = await self._store.claim_batch(self.owner, now=self._clock(), lease_s=self._settings.lease_s)
        if batch is None:
            return False
        heartbeat = asyncio.create_task(self._heartbeat(batch.id))
        try:
            await self._drain(batch)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            if self._stopping.is_set():  # hand the batch over at once rather than when the lease lapses
                with contextlib.suppress(Exception):
                    await self._store.renew_lease(batch.id, self.owner, self._clock())
        return True

    async def _heartbeat(self, batch_id: str) -> None:
        while True:
            await asyncio.sleep(self._settings.lease_s / 3)
            with contextlib.suppress(Exception):  # a store hiccup: the next beat tries again
                await self._store.renew_lease(batch_id, self.owner, self._clock() + self._settings.lease_s)

    async def _drain(self, batch: BatchRecord) -> None:
        key = await self._key(batch)
        while not self._stopping.is_set():
            current = await self._store.get_batch(batch.id)
            if current is None or current.lease_owner != self.owner:
                return  # another worker took it over
            now = self._clock()
            if current.status == "cancelling":
                await self._finish(current, "cancelled", leftover="cancelled")
                return
            if now >= current.expires_at:
                await self._finish(current, "expired", leftover="expired")
                return
            if current.completed + current.failed >= current.total:
                await self._finish(current, "completed", leftover=None)
                return
            items = await self._store.due_items(batch.id, now=now, limit=self._settings.concurrency)
            if items:
                await asyncio.gather(*(self._attempt(current, key, item) for item in items))
                continue
            wake = min(await self._store.next_due(batch.id) or now, current.expires_at)  # the rest wait
            if wake - now > self._settings.poll_interval_s:  # on a limit (a spent budget): free this worker
                await self._store.park_batch(batch.id, self.owner, wake)
                log.info("batch %s waits on a limit until %.0f; set aside", batch.id, wake)
                return
            with contextlib.suppress(TimeoutError):  # a retry due within a poll: wait for it here
                await asyncio.wait_for(self._stopping.wait(), max(wake - now, 0.05))

    async def _key(self, batch: BatchRecord) -> KeyRecord | None:
        for record in await self._store.list_keys(batch.tenant):
            if record.id == batch.key_id:
                return record if record.active else None
        return None

    async def _attempt(self, batch: BatchRecord, key: KeyRecord | None, item: BatchItem) -> None:
        outcome = await self._execute(batch, key, item)
        if outcome.status == 429:  # a rate, concurrency, capacity or budget limit: wait, no try spent
            wait = outcome.retry_after_s or self._settings.retry_backoff_s or self._settings.poll_interval_s
            await self._store.defer_item(
                batch.id, item.index, attempts=item.attempts, next_attempt_at=self._clock() + wait
            )
            return
        attempts = item.attempts + 1
        if outcome.status in RETRYABLE and attempts < self._settings.max_attempts:
            wait = self._settings.retry_backoff_s * 2 ** (attempts - 1)
            await self._store.defer_item(batch.id, item.index, attempts=attempts, next_attempt_at=self._clock() + wait)
            return
        status: ItemStatus = "done" if outcome.status < 400 else "failed"
        settled = await self._store.settle_item(
            batch.id,
            item.index,
            status=status,
            attempts=attempts,
            status_code=outcome.status,
            response=outcome.body.decode("utf-8", "replace"),
            request_id=outcome.request_id,
            at=self._clock(),
        )
        if settled and self._observe is not None:
            self._observe(status)

    async def _execute(self, batch: BatchRecord, key: KeyRecord | None, item: BatchItem) -> Outcome:
        request_id = f"batch-{item.index}-{os.urandom(8).hex()}"
        if key is None:
            error: EnvelopeError = AuthenticationFailed(
                "The key that created this batch was revoked.", code="revoked_api_key"
            )
            return Outcome(error.status, error.encode(), request_id)
        serving = self._serving()
        operation = _OPERATIONS[batch.endpoint]
        chain = serving.chains[operation]
        headers: dict[str, str] = msgspec.json.decode(batch.headers)
        ctx = RequestContext(request_id, operation, headers, item.body.encode())
        ctx.config_version = serving.version
        ctx.key = key
        ctx.priority = self._settings.priority
        try:
            await chain.run(ctx)
        except EnvelopeError as exc:
            ctx.fail(exc)
            await chain.finish(ctx)
            return Outcome(exc.status, exc.encode(), request_id, _retry_after(exc.headers))
        except Exception:  # a bug in a stage: retried like an upstream fault, and logged
            log.exception("batch %s item %d", batch.id, item.index)
            error = UpstreamFailed("The request failed inside the gateway.", code="internal_error")
            return Outcome(500, error.encode(), request_id)
        await chain.finish(ctx)
        return Outcome(200, ctx.answer or b"", request_id)

    async def _finish(self, batch: BatchRecord, status: BatchStatus, *, leftover: ItemStatus | None) -> None:
        items = await self._store.list_items(batch.id)
        if leftover is not None:
            items = [replace(i, status=leftover) if i.status == "pending" else i for i in items]
        output, errors = result_files(items, batch_id=batch.id)
        now = self._clock()
        files = []
        output_id = error_id = None
        if output:
            output_id = f"file-{batch.id.removeprefix('batch_')}-output"
            files.append((FileRecord(output_id, batch.tenant, "batch_output", f"{batch.id}_output.jsonl",
                                     len(output), now), output))  # fmt: skip
        if errors:
            error_id = f"file-{batch.id.removeprefix('batch_')}-errors"
            files.append((FileRecord(error_id, batch.tenant, "batch_error", f"{batch.id}_errors.jsonl",
                                     len(errors), now), errors))  # fmt: skip
        await self._store.finish_batch(
            batch.id,
            status=status,
            at=now,
            leftover=leftover,
            files=files,
            output_file_id=output_id,
            error_file_id=error_id,
        )
        log.info("batch %s %s: %d done, %d failed", batch.id, status, batch.completed, batch.failed)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """The seconds a refusal's Retry-After names (header names in any case)."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
