"""The batch worker survives its gateway dying: killed (SIGKILL) in the middle of a
batch, then stopped (SIGINT) in the middle again, the gateway restarted each time on the
same store finishes the batch with every item answered exactly once in the output. The
upstream is the scripted stand-in (real HTTP), slowed so the stops land mid-batch."""

from __future__ import annotations

import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.http.test_batches import chat_line, client, config, jsonl, lines_of, wait_until_done
from tests.support.processes import Gateway, relaunch, start_gateway
from tests.support.scripted import ScriptedUpstream, scripted_upstream

ITEMS = 60
CONCURRENCY = 3


@pytest.fixture
def upstream() -> Iterator[ScriptedUpstream]:
    with scripted_upstream() as scripted:
        scripted.delays["x"] = 0.4
        yield scripted


def settled(gateway: Gateway) -> int:
    """Items settled in the store (read directly: the gateway is down)."""
    with sqlite3.connect(gateway.db) as conn:
        return int(conn.execute("SELECT count(*) FROM batch_items WHERE status != 'pending'").fetchone()[0])


def completed(api: openai.OpenAI, batch_id: str) -> int:
    counts = api.batches.retrieve(batch_id).request_counts
    assert counts is not None
    return counts.completed


def wait_for_progress(api: openai.OpenAI, batch_id: str, at_least: int, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while completed(api, batch_id) < at_least:
        assert time.monotonic() < deadline, f"the batch did not reach {at_least} completed items"
        time.sleep(0.05)


def test_a_batch_survives_a_crash_and_a_restart(upstream: ScriptedUpstream, tmp_path: Path) -> None:
    document = config(upstream)
    document["gateway"]["batch"] = {**document["gateway"]["batch"], "concurrency": CONCURRENCY, "lease_s": 1.5}
    gateway: Gateway = start_gateway(tmp_path / "gw", document)
    try:
        api = client(gateway)
        requests = [chat_line(f"item-{i}", f"capital item-{i}.") for i in range(ITEMS)]
        uploaded = api.files.create(file=("in.jsonl", jsonl(requests)), purpose="batch")
        batch = api.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")

        wait_for_progress(api, batch.id, 5)
        gateway.proc.send_signal(signal.SIGKILL)  # a crash: nothing is flushed, the lease is left behind
        gateway.proc.wait(10)
        at_crash = settled(gateway)
        assert 5 <= at_crash < ITEMS
        gateway = relaunch(gateway)
        api = client(gateway)

        wait_for_progress(api, batch.id, at_crash + 5)
        gateway.stop()  # SIGINT: in-flight items finish, the lease is handed back at once
        assert settled(gateway) < ITEMS, "the batch ended before the second stop: slow the upstream"
        gateway = relaunch(gateway)
        api = client(gateway)
        done = wait_until_done(api, batch.id, seconds=60)
        output = lines_of(api, done.output_file_id)
    finally:
        gateway.stop()

    assert done.status == "completed"
    counts = done.request_counts
    assert counts is not None and (counts.total, counts.completed, counts.failed) == (ITEMS, ITEMS, 0)
    assert sorted(line["custom_id"] for line in output) == sorted(f"item-{i}" for i in range(ITEMS))
    assert done.error_file_id is None
    sent = Counter(body["messages"][-1]["content"].split()[-1] for body in upstream.received)
    assert set(sent) == {f"item-{i}." for i in range(ITEMS)}  # none lost
    resent = sum(n - 1 for n in sent.values())
    assert resent <= CONCURRENCY  # only what was in flight at the crash went upstream twice
