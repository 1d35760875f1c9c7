"""The worker in process, over the memory store, with a stand-in chain (the pipeline
itself is exercised end to end in tests/http/test_batches.py)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from envelope.batch.batches import Batches
from envelope.batch.records import PARKED, BatchRecord
from envelope.batch.worker import BatchWorker
from envelope.config.batch import BatchDoc
from envelope.errors import RateLimited
from envelope.keys import KeyRecord, digest
from envelope.pipeline.context import RequestContext
from envelope.store.memory import MemoryStore

LINE = b'{"custom_id": "%d", "method": "POST", "url": "/v1/chat/completions", "body": {"n": %d}}\n'


class EchoChain:
    """Answers each item with its own body; counts runs."""

    def __init__(self) -> None:
        self.runs = 0

    async def run(self, ctx: RequestContext) -> None:
        self.runs += 1
        assert ctx.key is not None and ctx.priority == "low"
        ctx.answer = ctx.body

    async def finish(self, ctx: RequestContext) -> None:
        pass


class SpentChain(EchoChain):
    """Refuses the items of tenant `spent` as admission does when a budget is spent; echoes the rest."""

    async def run(self, ctx: RequestContext) -> None:
        assert ctx.key is not None
        if ctx.key.tenant != "spent":
            return await super().run(ctx)
        self.runs += 1
        raise RateLimited("Limit reached: tenant budget.", code="budget_exceeded", headers={"retry-after": "3600"})


@dataclass
class Serving:
    chains: dict[str, Any]
    version: int | None = None


async def test_a_batch_made_here_starts_at_once_whatever_the_poll_interval() -> None:
    store = MemoryStore()
    key = KeyRecord(id="key_1", tenant="acme", role="tenant")
    await store.add(key, digest("secret"))
    chain = EchoChain()
    settings = BatchDoc(poll_interval_s=60, concurrency=2)
    worker = BatchWorker(store, lambda: Serving({"chat": chain}), settings)  # type: ignore[arg-type,return-value]
    batches = Batches(store, settings, on_work=worker.nudge)
    worker.start()
    try:
        await asyncio.sleep(0.05)  # the worker found nothing and waits for its next poll, a minute away
        upload = await batches.upload(
            key, filename="in.jsonl", purpose="batch", content=b"".join(LINE % (i, i) for i in range(5))
        )
        made = await batches.create(
            key, input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h",
            metadata=None, headers={},
        )  # fmt: skip
        for _ in range(100):
            done = await batches.batch(key, made.id)
            if done.status == "completed":
                break
            await asyncio.sleep(0.02)
        assert done.status == "completed" and done.completed == 5 and chain.runs == 5
        assert done.output_file_id is not None
        output = await batches.content(key, done.output_file_id)
        assert output.count(b"\n") == 5
    finally:
        await worker.stop(grace_s=1)


async def test_an_item_refused_by_a_limit_waits_as_long_as_the_limit_says_and_spends_no_try() -> None:
    store, clock = MemoryStore(), [1_000.0]
    key = KeyRecord(id="key_1", tenant="spent", role="tenant")
    await store.add(key, digest("secret"))
    chain = SpentChain()
    settings = BatchDoc(retry_backoff_s=2, max_attempts=2)
    worker = BatchWorker(store, lambda: Serving({"chat": chain}), settings, clock=lambda: clock[0])  # type: ignore[arg-type,return-value]
    batches = Batches(store, settings, clock=lambda: clock[0])
    upload = await batches.upload(key, filename="in.jsonl", purpose="batch", content=LINE % (0, 0))
    made = await batches.create(
        key, input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h",
        metadata=None, headers={},
    )  # fmt: skip
    batch = await store.claim_batch(worker.owner, now=clock[0], lease_s=30)
    assert batch is not None and batch.id == made.id
    (item,) = await store.due_items(made.id, now=clock[0], limit=5)
    await worker._attempt(batch, key, item)
    assert chain.runs == 1
    assert await store.due_items(made.id, now=clock[0] + 3599, limit=5) == []  # not before the hour the limit named
    (again,) = await store.due_items(made.id, now=clock[0] + 3600, limit=5)
    assert again.attempts == 0 and again.status == "pending"  # waiting on a limit is not a failed try


async def test_a_batch_waiting_on_a_spent_budget_is_set_aside_and_the_next_one_runs() -> None:
    store = MemoryStore()
    spent, acme = (
        KeyRecord(id="key_1", tenant="spent", role="tenant"),
        KeyRecord(id="key_2", tenant="acme", role="tenant"),
    )
    await store.add(spent, digest("one"))
    await store.add(acme, digest("two"))
    chain = SpentChain()
    settings = BatchDoc(poll_interval_s=60, concurrency=2)
    worker = BatchWorker(store, lambda: Serving({"chat": chain}), settings)  # type: ignore[arg-type,return-value]
    batches = Batches(store, settings, on_work=worker.nudge)

    async def batch_of(key: KeyRecord, n: int) -> str:
        upload = await batches.upload(
            key, filename="in.jsonl", purpose="batch", content=b"".join(LINE % (i, i) for i in range(n))
        )
        made = await batches.create(
            key, input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h",
            metadata=None, headers={},
        )  # fmt: skip
        return made.id

    async def until(key: KeyRecord, batch_id: str, status: str) -> BatchRecord:
        for _ in range(150):
            found = await batches.batch(key, batch_id)
            if found.status == status:
                return found
            await asyncio.sleep(0.02)
        raise AssertionError(f"{batch_id} is {found.status}, not {status}")

    waiting = await batch_of(spent, 3)  # the older batch: the worker takes it first
    ready = await batch_of(acme, 4)
    worker.start()
    try:
        done = await until(acme, ready, "completed")
        assert done.completed == 4
        parked = await batches.batch(spent, waiting)
        assert parked.status == "in_progress" and parked.completed + parked.failed == 0
        assert parked.lease_owner == PARKED and parked.lease_until is not None
        assert parked.lease_until - time.time() > 3500  # until the hour the budget named
        assert chain.runs == 4 + 3  # each waiting item tried once, not every few seconds
        await batches.cancel(spent, waiting)
        cancelled = await until(spent, waiting, "cancelled")  # at once, not in an hour (or at the next poll)
        assert cancelled.error_file_id is not None
        assert (await batches.content(spent, cancelled.error_file_id)).count(b"batch_cancelled") == 3
    finally:
        await worker.stop(grace_s=1)
