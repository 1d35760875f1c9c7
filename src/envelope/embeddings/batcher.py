"""Micro-batching: concurrent callers' items share one call of a batch function.

When the batcher is idle, the first arrival waits up to `window_s` (or until
`max_batch` items are pending) for company; while a batch runs, new arrivals queue
and go in the next one without further wait. Each batch runs in one worker task
the batcher owns, so a caller that times out or is cancelled never cancels a batch
shared with others; its items are simply dropped if they have not started.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


class Batcher(Generic[In, Out]):
    """Runs `run` over items gathered from concurrent `submit` calls, `max_batch` at a time.

    `run` must return one result per item, in order.
    """

    def __init__(
        self,
        run: Callable[[list[In]], Awaitable[Sequence[Out]]],
        *,
        max_batch: int,
        window_s: float = 0.002,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._run = run
        self._max_batch = max_batch
        self._window_s = window_s
        self._pending: deque[tuple[In, asyncio.Future[Out]]] = deque()
        self._full = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, items: Sequence[In]) -> list[Out]:
        """The results for `items`, in order, once the batches holding them have run."""
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in items]
        self._pending.extend(zip(items, futures, strict=True))
        if len(self._pending) >= self._max_batch:
            self._full.set()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        try:
            return list(await asyncio.gather(*futures))
        finally:
            for future in futures:  # after a failure or cancellation: the worker skips the rest
                future.cancel()

    async def close(self) -> None:
        """Stop the worker; callers still waiting are cancelled."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        while self._pending:
            self._pending.popleft()[1].cancel()

    async def _drain(self) -> None:
        await self._gather_window()
        while self._pending:
            batch = self._take()
            if batch:
                await self._run_batch(batch)

    async def _gather_window(self) -> None:
        if len(self._pending) < self._max_batch:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._window_s):
                    await self._full.wait()

    def _take(self) -> list[tuple[In, asyncio.Future[Out]]]:
        batch: list[tuple[In, asyncio.Future[Out]]] = []
        while self._pending and len(batch) < self._max_batch:
            item, future = self._pending.popleft()
            if not future.done():  # a cancelled caller's items are skipped
                batch.append((item, future))
        if len(self._pending) < self._max_batch:
            self._full.clear()
        return batch

    async def _run_batch(self, batch: list[tuple[In, asyncio.Future[Out]]]) -> None:
        try:
            results = await self._run([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"batch function returned {len(results)} results for {len(batch)} items")
        except asyncio.CancelledError:  # closed mid-batch: its callers must not wait forever
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
