"""The load generator against the fake upstream process, and the /proc CPU meter."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from envelope.bench.cpu import measure_tree_cpu, tree_cpu_seconds, tree_pids
from envelope.bench.load import LoadResult, build_request, run_load
from tests.support.processes import FakeUpstream, free_port

CHAT: dict[str, Any] = {"model": "fake-model", "messages": [{"role": "user", "content": "Hello there"}]}
STREAM: dict[str, Any] = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}


async def _load(upstream: FakeUpstream, body: Mapping[str, object], *, path: str = "/v1/chat/completions",
                stream: bool = False, **options: object) -> LoadResult:  # fmt: skip
    settings: dict[str, object] = {"connections": 8, "requests": 300, "duration_s": None, "warmup": 0}
    settings.update(options)
    return await run_load(
        host="127.0.0.1",
        port=upstream.port,
        path=path,
        body=json.dumps(body).encode(),
        headers={"Authorization": "Bearer x"},
        stream=stream,
        **settings,  # type: ignore[arg-type]
    )


def _assert_ordered(result: LoadResult) -> None:
    assert 0 < result.p50_ms <= result.p90_ms <= result.p99_ms <= result.max_ms
    assert result.elapsed_s > 0 and result.rps > 0


async def test_non_stream(fake_upstream: FakeUpstream) -> None:
    result = await _load(fake_upstream, CHAT, requests=500, warmup=50)
    assert (result.count, result.errors) == (500, 0)
    _assert_ordered(result)
    assert result.ttft_p50_ms is None and result.ttft_p99_ms is None


async def test_stream(fake_upstream: FakeUpstream) -> None:
    result = await _load(fake_upstream, STREAM, stream=True, requests=400, warmup=20)
    assert (result.count, result.errors) == (400, 0)
    _assert_ordered(result)
    assert result.ttft_p50_ms is not None and result.ttft_p99_ms is not None
    assert 0 < result.ttft_p50_ms <= result.ttft_p99_ms
    assert result.ttft_p50_ms <= result.p50_ms and result.ttft_p99_ms <= result.p99_ms


async def test_ttft_is_time_to_first_body_byte(fake_upstream: FakeUpstream) -> None:
    path = "/fault/slow-first-token-100/v1/chat/completions"
    result = await _load(fake_upstream, STREAM, path=path, stream=True, requests=4, connections=2)
    assert result.count == 4
    assert result.ttft_p50_ms is not None and result.ttft_p50_ms >= 95


async def test_duration_bound(fake_upstream: FakeUpstream) -> None:
    started = time.perf_counter()
    result = await _load(fake_upstream, CHAT, requests=None, duration_s=0.3)
    assert time.perf_counter() - started < 3
    assert result.count > 0 and result.errors == 0
    assert 0.3 <= result.elapsed_s < 2


async def test_errors_are_counted(fake_upstream: FakeUpstream) -> None:
    failing = await _load(fake_upstream, CHAT, path="/fault/status-500/v1/chat/completions", requests=50)
    assert (failing.count, failing.errors) == (0, 50)
    assert failing.p99_ms == 0.0
    cut = await _load(fake_upstream, STREAM, path="/fault/cut/v1/chat/completions", stream=True, requests=20)
    assert (cut.count, cut.errors) == (0, 20)


async def test_hung_requests_time_out(fake_upstream: FakeUpstream) -> None:
    started = time.perf_counter()
    result = await _load(fake_upstream, CHAT, path="/fault/hang/v1/chat/completions", requests=2,
                         connections=2, request_timeout_s=0.2)  # fmt: skip
    assert (result.count, result.errors) == (0, 2)
    assert time.perf_counter() - started < 3


async def test_refused_connections_are_errors() -> None:
    result = await run_load(host="127.0.0.1", port=free_port(), path="/", body=b"", headers={}, method="GET",
                            connections=2, requests=6, duration_s=5, stream=False)  # fmt: skip
    assert (result.count, result.errors) == (0, 6)


@pytest.fixture
async def closing_server() -> AsyncIterator[int]:
    """An HTTP/1.0-style server: no Content-Length, the body ends when it closes."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.0 200 OK\r\nConnection: close\r\n\r\nhello")
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


async def test_read_until_close_and_reconnect(closing_server: int) -> None:
    result = await run_load(host="127.0.0.1", port=closing_server, path="/", body=b"", headers={}, method="GET",
                            connections=3, requests=30, duration_s=None, stream=False)  # fmt: skip
    assert (result.count, result.errors) == (30, 0)


def test_build_request() -> None:
    request = build_request(method="POST", host="h", port=1, path="/p", body=b"{}", headers={"X-A": "b"})
    assert request == (
        b"POST /p HTTP/1.1\r\nHost: h:1\r\nContent-Type: application/json\r\nContent-Length: 2\r\nX-A: b\r\n\r\n{}"
    )


async def test_bounds_are_required(fake_upstream: FakeUpstream) -> None:
    with pytest.raises(ValueError):
        await _load(fake_upstream, CHAT, requests=None, duration_s=None)


# --- cpu ------------------------------------------------------------------------------------


async def test_upstream_cpu_grows_under_load(fake_upstream: FakeUpstream) -> None:
    before = tree_cpu_seconds(fake_upstream.proc.pid)
    with measure_tree_cpu(fake_upstream.proc.pid) as cpu:
        await _load(fake_upstream, STREAM, stream=True, requests=3000, connections=16)
    assert cpu.seconds > 0
    assert tree_cpu_seconds(fake_upstream.proc.pid) > before


BURN_IN_CHILD = (
    "import subprocess, sys, time\n"
    "code = 'import time\\nend = time.process_time() + 0.3\\nwhile time.process_time() < end: pass\\n"
    'print("done", flush=True)\\ntime.sleep(30)\'\n'
    "subprocess.run([sys.executable, '-c', code], timeout=60)\n"
)


def test_tree_cpu_counts_descendants() -> None:
    with subprocess.Popen([sys.executable, "-c", BURN_IN_CHILD], stdout=subprocess.PIPE, text=True) as parent:
        try:
            assert parent.stdout is not None and parent.stdout.readline().strip() == "done"
            pids = tree_pids(parent.pid)
            assert len(pids) == 2 and pids[0] == parent.pid
            child, total = tree_cpu_seconds(pids[1]), tree_cpu_seconds(parent.pid)
            assert child >= 0.25  # the child's burn...
            assert total >= child and total - child < 0.25  # ...is counted in its parent's tree
        finally:
            for pid in reversed(tree_pids(parent.pid)):  # the child first, then its parent
                os.kill(pid, signal.SIGTERM)
            parent.wait(10)


def test_missing_process() -> None:
    with pytest.raises(ProcessLookupError):
        tree_cpu_seconds(2**22 + 12345)


# --- open loop (rate) -----------------------------------------------------------------------


async def test_rate_paces_requests(fake_upstream: FakeUpstream) -> None:
    result = await _load(fake_upstream, CHAT, requests=None, duration_s=1.0, rate=500)
    assert result.errors == 0
    assert 450 <= result.count <= 550
    assert 450 <= result.rps <= 550
    _assert_ordered(result)


async def test_rate_latency_counts_queueing(fake_upstream: FakeUpstream) -> None:
    # 4 connections of a 50 ms upstream carry at most 80 req/s: offered 200 req/s, requests queue for a connection,
    # and latency from the schedule shows it (the last of 60, due at 0.3 s, ends near 0.75 s: about 450 ms)
    path = "/fault/delay-50/v1/chat/completions"
    paced = await _load(fake_upstream, CHAT, path=path, connections=4, requests=60, rate=200)
    assert (paced.count, paced.errors) == (60, 0)
    assert paced.p99_ms > 250
    assert paced.elapsed_s >= 0.7 and paced.rps < 90
    closed = await _load(fake_upstream, CHAT, path=path, connections=4, requests=20)  # the same server, closed loop
    assert closed.p99_ms < 150 < paced.p50_ms


async def test_rate_warmup_is_not_counted(fake_upstream: FakeUpstream) -> None:
    result = await _load(fake_upstream, STREAM, stream=True, requests=200, warmup=100, rate=2000)
    assert (result.count, result.errors) == (200, 0)
    assert result.ttft_p50_ms is not None and 0 < result.ttft_p50_ms <= result.p50_ms
    assert result.elapsed_s >= 0.099  # the measured part of the schedule alone lasts 0.1 s


async def test_rate_requests_waiting_past_the_timeout_fail(fake_upstream: FakeUpstream) -> None:
    # one connection hangs; the requests due meanwhile wait for it longer than the timeout and fail unsent
    started = time.perf_counter()
    result = await _load(fake_upstream, CHAT, path="/fault/hang/v1/chat/completions", connections=1, requests=20,
                         rate=100, request_timeout_s=0.2)  # fmt: skip
    assert (result.count, result.errors) == (0, 20)
    assert time.perf_counter() - started < 2


async def test_rate_refused_connections_are_errors() -> None:
    result = await run_load(host="127.0.0.1", port=free_port(), path="/", body=b"", headers={}, method="GET",
                            connections=2, requests=6, duration_s=None, stream=False, rate=200)  # fmt: skip
    assert (result.count, result.errors) == (0, 6)


async def test_rate_read_until_close_and_reconnect(closing_server: int) -> None:
    result = await run_load(host="127.0.0.1", port=closing_server, path="/", body=b"", headers={}, method="GET",
                            connections=3, requests=30, duration_s=None, stream=False, rate=300)  # fmt: skip
    assert (result.count, result.errors) == (30, 0)


@pytest.mark.parametrize("rate", [0, -5, float("inf"), float("nan")])
async def test_rate_must_be_positive(fake_upstream: FakeUpstream, rate: float) -> None:
    with pytest.raises(ValueError):
        await _load(fake_upstream, CHAT, rate=rate)
