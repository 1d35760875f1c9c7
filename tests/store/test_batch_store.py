"""`BatchStore` over every store adapter: files, batches, leases, and items settled once."""

from __future__ import annotations

import pytest

from envelope.batch.records import BatchItem, BatchRecord, FileRecord
from envelope.store.ports import Conflict, Store
from tests.store.test_contract import store  # noqa: F401 (the fixture)


def batch(batch_id: str = "batch_1", *, created_at: float = 100.0, total: int = 3) -> BatchRecord:
    return BatchRecord(
        id=batch_id, tenant="acme", key_id="key_1", input_file_id="file_in", endpoint="/v1/chat/completions",
        completion_window="24h", status="in_progress", created_at=created_at, expires_at=created_at + 86400,
        headers="{}", total=total,
    )  # fmt: skip


def items(batch_id: str = "batch_1", n: int = 3) -> list[BatchItem]:
    return [BatchItem(batch_id, i, f"req-{i}", '{"messages": []}') for i in range(n)]


async def test_files_are_stored_listed_per_tenant_and_deleted(store: Store) -> None:  # noqa: F811
    first = FileRecord("file_a", "acme", "batch", "a.jsonl", 3, 1.0)
    await store.add_file(first, b"abc")
    await store.add_file(FileRecord("file_b", "acme", "batch_output", "b.jsonl", 2, 2.0), b"xy")
    await store.add_file(FileRecord("file_c", "beta", "batch", "c.jsonl", 1, 3.0), b"z")
    await store.add_file(FileRecord("file_a", "acme", "batch", "again.jsonl", 5, 9.0), b"other")  # kept as it was
    assert await store.get_file("file_a") == first
    assert await store.file_content("file_a") == b"abc"
    assert [f.id for f in await store.list_files("acme")] == ["file_b", "file_a"]
    assert [f.id for f in await store.list_files("acme", "batch")] == ["file_a"]
    assert await store.delete_file("file_a") is True
    assert await store.delete_file("file_a") is False
    assert await store.get_file("file_a") is None and await store.file_content("file_a") is None


async def test_a_batch_is_leased_to_one_worker_until_its_lease_lapses(store: Store) -> None:  # noqa: F811
    await store.add_batch(batch(), items())
    claimed = await store.claim_batch("w1", now=1000.0, lease_s=30)
    assert claimed is not None and claimed.lease_owner == "w1" and claimed.lease_until == 1030.0
    assert await store.claim_batch("w2", now=1010.0, lease_s=30) is None  # held by w1
    assert await store.renew_lease("batch_1", "w1", 1060.0) is True
    assert await store.renew_lease("batch_1", "w2", 2000.0) is False
    assert await store.claim_batch("w2", now=1050.0, lease_s=30) is None
    taken = await store.claim_batch("w2", now=1061.0, lease_s=30)  # w1's lease lapsed
    assert taken is not None and taken.lease_owner == "w2"
    assert await store.renew_lease("batch_1", "w1", 3000.0) is False


async def test_items_are_due_deferred_and_settled_once(store: Store) -> None:  # noqa: F811
    await store.add_batch(batch(), items())
    due = await store.due_items("batch_1", now=10.0, limit=2)
    assert [i.custom_id for i in due] == ["req-0", "req-1"]
    await store.defer_item("batch_1", 0, attempts=1, next_attempt_at=50.0)
    assert [i.index for i in await store.due_items("batch_1", now=10.0, limit=5)] == [1, 2]
    assert [i.index for i in await store.due_items("batch_1", now=50.0, limit=5)] == [0, 1, 2]
    settle = dict(attempts=1, status_code=200, response='{"ok": 1}', request_id="r1", at=60.0)
    assert await store.settle_item("batch_1", 1, status="done", **settle) is True  # type: ignore[arg-type]
    assert await store.settle_item("batch_1", 1, status="failed", **settle) is False  # type: ignore[arg-type]
    assert await store.settle_item("batch_1", 2, status="failed", **settle) is True  # type: ignore[arg-type]
    counted = await store.get_batch("batch_1")
    assert counted is not None and (counted.completed, counted.failed) == (1, 1)
    listed = await store.list_items("batch_1")
    assert [(i.status, i.attempts) for i in listed] == [("pending", 1), ("done", 1), ("failed", 1)]
    assert listed[1].response == '{"ok": 1}' and listed[1].request_id == "r1" and listed[1].finished_at == 60.0


async def test_cancel_and_finish(store: Store) -> None:  # noqa: F811
    await store.add_batch(batch(), items())
    cancelling = await store.cancel_batch("batch_1", 5.0)
    assert cancelling is not None and cancelling.status == "cancelling" and cancelling.cancelling_at == 5.0
    assert await store.cancel_batch("nope", 5.0) is None
    await store.claim_batch("w1", now=6.0, lease_s=30)  # a cancelling batch is still open: the worker ends it
    out = FileRecord("file_out", "acme", "batch_output", "o.jsonl", 2, 7.0)
    await store.finish_batch(
        "batch_1", status="cancelled", at=7.0, leftover="cancelled", files=[(out, b"{}")],
        output_file_id="file_out", error_file_id=None,
    )  # fmt: skip
    done = await store.get_batch("batch_1")
    assert done is not None and done.status == "cancelled" and done.cancelled_at == 7.0
    assert done.output_file_id == "file_out" and done.lease_owner is None
    assert {i.status for i in await store.list_items("batch_1")} == {"cancelled"}
    assert await store.file_content("file_out") == b"{}"
    again = await store.cancel_batch("batch_1", 8.0)  # an ended batch stays ended
    assert again is not None and again.status == "cancelled"
    assert await store.claim_batch("w1", now=9.0, lease_s=30) is None


async def test_batches_listed_newest_first_per_tenant(store: Store) -> None:  # noqa: F811
    await store.add_batch(batch("batch_old", created_at=1.0), [])
    await store.add_batch(batch("batch_new", created_at=2.0), [])
    assert [b.id for b in await store.list_batches("acme")] == ["batch_new", "batch_old"]
    assert await store.list_batches("beta") == []
    with pytest.raises(Conflict):
        await store.add_batch(batch("batch_new", created_at=3.0), [])


async def test_a_batch_waiting_on_a_limit_is_parked_until_due_or_cancelled(store: Store) -> None:  # noqa: F811
    await store.add_batch(batch(), items(n=2))
    assert await store.next_due("batch_1") == 0.0  # pending items never tried are due at once
    await store.defer_item("batch_1", 0, attempts=0, next_attempt_at=5000.0)
    await store.defer_item("batch_1", 1, attempts=0, next_attempt_at=4000.0)
    assert await store.next_due("batch_1") == 4000.0
    assert await store.claim_batch("w1", now=1000.0, lease_s=30) is not None
    assert await store.park_batch("batch_1", "w2", 4000.0) is False  # not w2's to park
    assert await store.park_batch("batch_1", "w1", 4000.0) is True
    assert await store.renew_lease("batch_1", "w1", 1060.0) is False  # w1 let it go
    assert await store.claim_batch("w1", now=1001.0, lease_s=30) is None  # nor does w1 take it back early
    assert await store.claim_batch("w2", now=3999.0, lease_s=30) is None
    woken = await store.claim_batch("w2", now=4000.5, lease_s=30)
    assert woken is not None and woken.lease_owner == "w2"

    await store.add_batch(batch("batch_2", created_at=200.0), items("batch_2", n=1))
    assert await store.claim_batch("w1", now=4001.0, lease_s=30) is not None
    assert await store.park_batch("batch_2", "w1", 90_000.0) is True
    assert await store.claim_batch("w3", now=4002.0, lease_s=30) is None
    cancelling = await store.cancel_batch("batch_2", 4003.0)
    assert cancelling is not None and cancelling.status == "cancelling"
    taken = await store.claim_batch("w3", now=4004.0, lease_s=30)  # a cancel needs a worker now, not tomorrow
    assert taken is not None and taken.id == "batch_2" and taken.status == "cancelling"
    for item in items("batch_2", n=1):
        await store.settle_item("batch_2", item.index, status="done", attempts=1, status_code=200, response="{}",
                                request_id=None, at=4005.0)  # fmt: skip
    assert await store.next_due("batch_2") is None
