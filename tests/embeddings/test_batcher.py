"""Micro-batching: who shares a batch, how big batches get, and what failures reach whom."""

from __future__ import annotations

import asyncio

import pytest

from envelope.embeddings.batcher import Batcher


class Recorder:
    """A batch function that doubles numbers and remembers every batch it saw."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        await self.release.wait()
        return [2 * item for item in items]


async def test_concurrent_callers_share_one_batch() -> None:
    run = Recorder()
    batcher = Batcher(run, max_batch=32, window_s=0.02)
    results = list(await asyncio.gather(batcher.submit([1, 2]), batcher.submit([3]), batcher.submit([4, 5, 6])))
    assert results == [[2, 4], [6], [8, 10, 12]]
    assert run.batches == [[1, 2, 3, 4, 5, 6]]
    await batcher.close()


async def test_batches_never_exceed_max_batch_and_keep_order() -> None:
    run = Recorder()
    batcher = Batcher(run, max_batch=4, window_s=0.01)
    results = list(await asyncio.gather(batcher.submit(list(range(7))), batcher.submit([10, 11, 12])))
    assert results == [[2 * i for i in range(7)], [20, 22, 24]]
    assert all(len(batch) <= 4 for batch in run.batches)
    assert sorted(item for batch in run.batches for item in batch) == [*range(7), 10, 11, 12]
    await batcher.close()


async def test_a_full_batch_does_not_wait_for_the_window() -> None:
    run = Recorder()
    batcher = Batcher(run, max_batch=2, window_s=10.0)
    async with asyncio.timeout(1.0):
        assert await batcher.submit([1, 2]) == [2, 4]
    await batcher.close()


async def test_arrivals_during_a_batch_go_in_the_next() -> None:
    run = Recorder()
    run.release.clear()
    batcher = Batcher(run, max_batch=8, window_s=0.001)
    first = asyncio.create_task(batcher.submit([1]))
    while not run.batches:
        await asyncio.sleep(0.001)
    second = asyncio.create_task(batcher.submit([2]))
    third = asyncio.create_task(batcher.submit([3]))
    await asyncio.sleep(0.01)
    run.release.set()
    assert list(await asyncio.gather(first, second, third)) == [[2], [4], [6]]
    assert run.batches == [[1], [2, 3]]
    await batcher.close()


async def test_a_failure_reaches_every_caller_in_the_batch() -> None:
    async def fail(items: list[int]) -> list[int]:
        raise ValueError("boom")

    batcher = Batcher(fail, max_batch=8, window_s=0.01)
    results = await asyncio.gather(batcher.submit([1]), batcher.submit([2]), return_exceptions=True)
    assert all(isinstance(r, ValueError) for r in results)
    await batcher.close()


async def test_a_wrong_result_count_is_an_error() -> None:
    async def short(items: list[int]) -> list[int]:
        return items[:-1]

    batcher = Batcher(short, max_batch=8, window_s=0.001)
    with pytest.raises(RuntimeError, match="results for 2 items"):
        await batcher.submit([1, 2])
    await batcher.close()


async def test_a_cancelled_callers_items_are_skipped() -> None:
    run = Recorder()
    batcher = Batcher(run, max_batch=8, window_s=0.05)
    gone = asyncio.create_task(batcher.submit([1]))
    await asyncio.sleep(0)
    gone.cancel()
    assert await batcher.submit([2]) == [4]
    assert run.batches == [[2]]
    assert gone.cancelled()
    await batcher.close()


async def test_close_cancels_waiting_callers() -> None:
    run = Recorder()
    run.release.clear()
    batcher = Batcher(run, max_batch=1, window_s=0.001)
    running = asyncio.create_task(batcher.submit([1]))
    queued = asyncio.create_task(batcher.submit([2]))
    while not run.batches:
        await asyncio.sleep(0.001)
    await batcher.close()
    for task in (running, queued):
        with pytest.raises(asyncio.CancelledError):
            await task


def test_max_batch_must_be_positive() -> None:
    async def run(items: list[int]) -> list[int]:
        return items

    with pytest.raises(ValueError):
        Batcher(run, max_batch=0)
