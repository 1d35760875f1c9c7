"""The worker in process, over the memory store, with a stand-in chain (the pipeline
itself is exercised end to end in tests/http/test_batches.py)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from envelope.batch.batches import Batches
from envelope.batch.worker import BatchWorker
from envelope.config.batch import BatchDoc
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
    batches = Batches(store, settings, on_created=worker.nudge)
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
