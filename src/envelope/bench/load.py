"""A lean HTTP/1.1 keep-alive load generator on raw asyncio protocols.

It spends as little client CPU as it can, so that the server under test is the
bottleneck: the request is encoded once, each connection sends the next request as
soon as the previous response is read, and responses are framed (Content-Length,
chunked, or read-to-close) without being kept or decoded.

A run is bounded by a request count, a duration, or both (whichever ends first);
every request also has a timeout, so a hung server cannot stall it. Warm-up requests
go over the same connections first and are not counted.

Latency is measured per request from the write of the request to the last byte of
the response; for streams, time to first token is the time to the first body byte.

Given a `rate`, the run is open-loop instead: request i is due at start + i/rate, and
is sent on whichever connection is free (or, if none is, as soon as one frees up).
Latency and time to first token are then measured from the *scheduled* time, so the
time a request waits for a connection is counted (no coordinated omission). One timer
callback paces the whole run, sending every request already due at each tick, and a
connection that finishes a response takes the next due request itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

_CONNECT_RETRY_S: Final = 0.01
_WATCHDOG_PERIOD_S: Final = 0.25
_MAX_HEAD_BYTES: Final = 64 * 1024

# response parser states
_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _TRAILER, _UNTIL_CLOSE = range(6)


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What a load run measured. Latencies are of successful requests, in milliseconds.

    `count` is the successful (2xx, fully read) requests, `errors` the others (non-2xx,
    broken or timed-out connections, failed connects); `rps` is `count / elapsed_s`.
    The `ttft_*` figures are set for stream runs only.
    """

    count: int
    errors: int
    elapsed_s: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    ttft_p50_ms: float | None = None
    ttft_p99_ms: float | None = None


def _percentile(ordered: list[int], q: float) -> float:
    """Nearest-rank percentile of sorted nanosecond values, in milliseconds."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1] / 1e6


class _Phase:
    """The budget and the measurements of one phase (warm-up or measured run)."""

    def __init__(self, *, requests: int | None, duration_s: float | None, stream: bool) -> None:
        self.remaining = requests
        self.duration_ns = None if duration_s is None else int(duration_s * 1e9)
        self.deadline_ns = 0
        self.stream = stream
        self.latencies: list[int] = []
        self.ttfts: list[int] = []
        self.errors = 0
        self.started_ns = 0
        self.ended_ns = 0

    def start(self) -> None:
        self.started_ns = time.perf_counter_ns()
        if self.duration_ns is not None:
            self.deadline_ns = self.started_ns + self.duration_ns

    def has_budget(self, now_ns: int) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        return not self.deadline_ns or now_ns < self.deadline_ns

    def take(self, now_ns: int) -> bool:
        """Consume one request from the budget, if any is left."""
        if not self.has_budget(now_ns):
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True

    def result(self) -> LoadResult:
        elapsed = max(self.ended_ns - self.started_ns, 1) / 1e9
        latencies = sorted(self.latencies)
        ttfts = sorted(self.ttfts)
        return LoadResult(
            count=len(latencies),
            errors=self.errors,
            elapsed_s=elapsed,
            rps=len(latencies) / elapsed,
            p50_ms=_percentile(latencies, 0.50),
            p90_ms=_percentile(latencies, 0.90),
            p99_ms=_percentile(latencies, 0.99),
            max_ms=latencies[-1] / 1e6 if latencies else 0.0,
            ttft_p50_ms=_percentile(ttfts, 0.50) if self.stream else None,
            ttft_p99_ms=_percentile(ttfts, 0.99) if self.stream else None,
        )


class _Connection(asyncio.Protocol):
    """One keep-alive connection that sends the next request when a response ends."""

    def __init__(self, request: bytes, phase: _Phase) -> None:
        self._request = request
        self.phase = phase
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[bool] | None = None
        self._buffer = bytearray()
        self._state = _HEAD
        self._remaining = 0  # bytes left in the body (_LENGTH) or chunk + CRLF (_CHUNK_DATA)
        self._status = 0
        self._close_after = False
        self.sent_ns = 0  # 0 when no request is in flight
        self._first_ns = 0
        self.closed = False

    # -- driving -----------------------------------------------------------------------

    def run(self, phase: _Phase) -> asyncio.Future[bool]:
        """Send requests until the phase's budget is spent (True) or the connection is lost (False)."""
        self.phase = phase
        self._waiter = asyncio.get_running_loop().create_future()
        self._send_next(time.perf_counter_ns())
        return self._waiter

    def _send_next(self, now_ns: int) -> None:
        if self.closed or self._transport is None:
            self._finish(False)  # lost before this run began: the slot reconnects
            return
        if not self.phase.take(now_ns):
            self.sent_ns = 0
            self._finish(True)
            return
        self.sent_ns = now_ns
        self._first_ns = 0
        self._state = _HEAD
        self._transport.write(self._request)

    def _finish(self, idle: bool) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(idle)

    def abort(self) -> None:
        """Drop the connection (the in-flight request, if any, counts as an error)."""
        if self._transport is not None:
            self._transport.abort()

    def overdue(self, now_ns: int, timeout_ns: int) -> bool:
        """Whether the in-flight request, if any, has waited longer than the timeout."""
        return bool(self.sent_ns) and now_ns - self.sent_ns > timeout_ns

    # -- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # always a stream transport here

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._transport = None
        if self.sent_ns:
            if self._state == _UNTIL_CLOSE:
                self._complete(time.perf_counter_ns(), send_next=False)
            else:
                self.phase.errors += 1
            self.sent_ns = 0
        self._finish(False)

    def data_received(self, data: bytes) -> None:
        if not self.sent_ns:
            return  # nothing asked; ignore stray bytes
        if self.phase.stream and not self._first_ns and self._state != _HEAD:
            self._first_ns = time.perf_counter_ns()
        if self._state == _LENGTH and not self._buffer:
            self._remaining -= len(data)  # the common case: no copy at all
            if self._remaining <= 0:
                self._complete(time.perf_counter_ns())
            return
        self._buffer += data
        try:
            self._parse()
        except ValueError:
            self.phase.errors += 1
            self.sent_ns = 0
            self.abort()

    # -- response framing --------------------------------------------------------------

    def _parse(self) -> None:
        buffer = self._buffer
        pos = 0
        while self.sent_ns:
            state = self._state
            if state == _HEAD:
                pos = self._parse_head(buffer)
                if pos < 0:
                    return
            elif state in (_LENGTH, _CHUNK_DATA):
                available = len(buffer) - pos
                if available < self._remaining:
                    self._remaining -= available
                    pos = len(buffer)
                    break
                pos += self._remaining
                self._remaining = 0
                if state == _LENGTH:
                    self._complete(time.perf_counter_ns())
                    break
                self._state = _CHUNK_SIZE
            elif state in (_CHUNK_SIZE, _TRAILER):
                end = buffer.find(b"\r\n", pos)
                if end < 0:
                    break
                line = bytes(buffer[pos:end])
                pos = end + 2
                if state == _TRAILER:
                    if not line:
                        self._complete(time.perf_counter_ns())
                        break
                    continue
                size = int(line.partition(b";")[0], 16)
                self._state = _CHUNK_DATA if size else _TRAILER
                self._remaining = size + 2
            else:  # _UNTIL_CLOSE: the body ends when the server closes
                pos = len(buffer)
                break
        del buffer[:pos]

    def _parse_head(self, buffer: bytearray) -> int:
        """Parse the status line and headers; the position after them, or -1."""
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > _MAX_HEAD_BYTES:
                raise ValueError("response head too large")
            return -1
        head = bytes(buffer[:end]).lower()
        self._status = int(head[9:12])
        self._close_after = b"\r\nconnection: close" in head
        if b"\r\ntransfer-encoding: chunked" in head:
            self._state = _CHUNK_SIZE
        else:
            start = head.find(b"\r\ncontent-length:")
            if start >= 0:
                stop = head.find(b"\r\n", start + 17)
                self._remaining = int(head[start + 17 : stop if stop >= 0 else len(head)])
                self._state = _LENGTH
            else:
                self._state = _UNTIL_CLOSE
        pos = end + 4
        if self._state == _LENGTH and self._remaining == 0:
            self._complete(time.perf_counter_ns())
        elif self.phase.stream and pos < len(buffer):
            self._first_ns = time.perf_counter_ns()
        return pos

    def _complete(self, now_ns: int, *, send_next: bool = True) -> None:
        phase = self.phase
        if 200 <= self._status < 300:
            phase.latencies.append(now_ns - self.sent_ns)
            if phase.stream:
                phase.ttfts.append((self._first_ns or now_ns) - self.sent_ns)
        else:
            phase.errors += 1
        self.sent_ns = 0
        self._buffer.clear()
        if self._close_after and self._transport is not None:
            self._transport.close()  # the server will close; reconnect instead of reusing
        elif send_next:
            self._send_next(now_ns)


class _PacedConnection(_Connection):
    """A connection of an open-loop run: it sends the requests the pacer hands it.

    `sent_ns` holds the request's scheduled time, so latencies are measured from it;
    `written_ns`, the time it was actually written, is what the timeout runs from.
    """

    def __init__(self, request: bytes, pacer: _Pacer) -> None:
        super().__init__(request, pacer.phase)
        self._pacer = pacer
        self.written_ns = 0

    def send(self, phase: _Phase, due_ns: int, now_ns: int) -> None:
        transport = self._transport
        if transport is None:  # not expected (lost connections are skipped), but never strand a request
            phase.errors += 1
            self._finish(False)
            return
        self.phase = phase
        self.sent_ns = due_ns
        self.written_ns = now_ns
        self._first_ns = 0
        self._state = _HEAD
        transport.write(self._request)

    def release(self) -> None:
        """The run has no request left for this connection."""
        self._finish(True)

    def overdue(self, now_ns: int, timeout_ns: int) -> bool:
        return bool(self.sent_ns) and now_ns - self.written_ns > timeout_ns

    def _send_next(self, now_ns: int) -> None:
        if self.closed or self._transport is None:
            self._finish(False)
            return
        self.sent_ns = 0
        if not self._pacer.dispatch(self, now_ns):
            self._pacer.park(self, now_ns)


class _Pacer:
    """The schedule of an open-loop run: warm-up requests, then the measured ones.

    Request i is due at `start_ns + i * interval_ns`; `issued` is the next one to send.
    Due requests that no connection is free for are not queued anywhere: they are the
    indices from `issued` up to the current time, and a connection that finishes a
    response takes the next of them itself. While some connection is idle and requests
    remain, one timer is armed for the next due time; each tick hands every request
    already due to an idle connection. A request that waited longer than the timeout
    for a connection is an error and is not sent.
    """

    def __init__(
        self, warmup_phase: _Phase, phase: _Phase, *, rate: float, warmup: int, measured: int, timeout_s: float
    ) -> None:
        self.warmup_phase = warmup_phase
        self.phase = phase
        self.interval_ns = 1e9 / rate
        self.warmup = warmup
        self.planned = warmup + measured
        self.issued = 0  # requests sent (or failed) so far; the next one's index
        self.start_ns = 0
        self.timeout_ns = int(timeout_s * 1e9)
        self.idle: deque[_PacedConnection] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def exhausted(self) -> bool:
        return self.issued >= self.planned

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.start_ns = time.perf_counter_ns()
        self.warmup_phase.started_ns = self.start_ns
        self.phase.started_ns = self.start_ns + int(self.warmup * self.interval_ns)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self.idle:
            self.idle.popleft().release()

    def dispatch(self, connection: _PacedConnection | None, now_ns: int) -> bool:
        """Send the next request on `connection` if it is due (None: count it as failed)."""
        while self.issued < self.planned:
            index = self.issued
            due_ns = self.start_ns + int(index * self.interval_ns)
            if due_ns > now_ns:
                return False
            self.issued = index + 1
            if self.issued == self.planned:
                self.stop()  # no request is left for the idle connections
            phase = self.phase if index >= self.warmup else self.warmup_phase
            if connection is None or now_ns - due_ns > self.timeout_ns:
                phase.errors += 1
                if connection is None:
                    return True
                continue
            connection.send(phase, due_ns, now_ns)
            return True
        return False

    def park(self, connection: _PacedConnection, now_ns: int) -> None:
        """Keep an idle connection until a request is due for it, or release it."""
        if self.issued >= self.planned:
            connection.release()
            return
        self.idle.append(connection)
        if self._timer is None:
            self._arm(now_ns)

    def _arm(self, now_ns: int) -> None:
        assert self._loop is not None
        due_ns = self.start_ns + int(self.issued * self.interval_ns)
        self._timer = self._loop.call_later(max(due_ns - now_ns, 0) / 1e9, self._tick)

    def _tick(self) -> None:
        self._timer = None
        now_ns = time.perf_counter_ns()
        idle = self.idle
        while idle:
            connection = idle.popleft()
            if connection.closed:
                continue  # lost while idle: its slot reconnects
            if not self.dispatch(connection, now_ns):
                if self.issued < self.planned:
                    idle.appendleft(connection)
                    self._arm(now_ns)
                else:
                    connection.release()
                return


class _Slot:
    """One of the `connections` concurrent clients; reconnects when its connection drops."""

    def __init__(self, host: str, port: int, request: bytes) -> None:
        self._host = host
        self._port = port
        self._request = request
        self.connection: _Connection | None = None

    async def drive(self, phase: _Phase) -> None:
        loop = asyncio.get_running_loop()
        while phase.has_budget(time.perf_counter_ns()):
            if self.connection is None or self.connection.closed:
                try:
                    _, self.connection = await loop.create_connection(
                        lambda: _Connection(self._request, phase), self._host, self._port
                    )
                except OSError:
                    if phase.take(time.perf_counter_ns()):
                        phase.errors += 1
                    await asyncio.sleep(_CONNECT_RETRY_S)
                    continue
            if await self.connection.run(phase):
                return

    async def drive_paced(self, pacer: _Pacer) -> None:
        loop = asyncio.get_running_loop()
        connection: _PacedConnection | None = None
        while not pacer.exhausted:
            if connection is None or connection.closed:
                try:
                    _, connection = await loop.create_connection(
                        lambda: _PacedConnection(self._request, pacer), self._host, self._port
                    )
                except OSError:
                    pacer.dispatch(None, time.perf_counter_ns())  # a due request fails with it
                    await asyncio.sleep(_CONNECT_RETRY_S)
                    continue
                self.connection = connection
            if await connection.run(pacer.phase):
                return

    def close(self) -> None:
        if self.connection is not None and not self.connection.closed:
            self.connection.abort()


async def _watch(slots: list[_Slot], timeout_ns: int) -> None:
    """Abort connections whose request has been in flight longer than the timeout."""
    while True:
        await asyncio.sleep(_WATCHDOG_PERIOD_S)
        now = time.perf_counter_ns()
        for slot in slots:
            connection = slot.connection
            if connection is not None and connection.overdue(now, timeout_ns):
                connection.abort()


async def _run_phase(slots: list[_Slot], phase: _Phase, request_timeout_s: float) -> None:
    watchdog = asyncio.create_task(_watch(slots, int(request_timeout_s * 1e9)))
    phase.start()
    try:
        await asyncio.gather(*(slot.drive(phase) for slot in slots))
    finally:
        phase.ended_ns = time.perf_counter_ns()
        watchdog.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watchdog


async def _run_paced(slots: list[_Slot], pacer: _Pacer, request_timeout_s: float) -> None:
    watchdog = asyncio.create_task(_watch(slots, int(request_timeout_s * 1e9)))
    pacer.start()
    try:
        await asyncio.gather(*(slot.drive_paced(pacer) for slot in slots))
    finally:
        pacer.phase.ended_ns = time.perf_counter_ns()
        pacer.stop()
        watchdog.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watchdog


def _scheduled_count(rate: float, requests: int | None, duration_s: float | None) -> int:
    """How many requests a schedule at `rate` holds: `requests`, or those due within `duration_s`."""
    counts = [] if requests is None else [requests]
    if duration_s is not None:
        counts.append(math.ceil(round(duration_s * 1e9) * rate / 1e9))  # i / rate < duration_s
    return max(0, min(counts))


def build_request(*, method: str, host: str, port: int, path: str, body: bytes, headers: Mapping[str, str]) -> bytes:
    """The bytes of one HTTP/1.1 request, encoded once per run."""
    names = {name.lower() for name in headers}
    lines = [f"{method} {path} HTTP/1.1"]
    if "host" not in names:
        lines.append(f"Host: {host}:{port}")
    if body and "content-type" not in names:
        lines.append("Content-Type: application/json")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    lines.extend(f"{name}: {value}" for name, value in headers.items() if name.lower() != "content-length")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def run_load(
    *,
    host: str,
    port: int,
    path: str,
    body: bytes,
    headers: Mapping[str, str],
    connections: int,
    requests: int | None,
    duration_s: float | None,
    stream: bool,
    warmup: int = 0,
    method: str = "POST",
    request_timeout_s: float = 30.0,
    rate: float | None = None,
) -> LoadResult:
    """Send the same request over `connections` keep-alive connections until the budget ends.

    The run stops after `requests` requests or `duration_s` seconds, whichever comes
    first (at least one must be given); requests in flight at the deadline are waited
    for, up to `request_timeout_s`. `stream` only turns on time-to-first-token
    measurement: the body itself must ask for a stream. `warmup` requests are sent
    first over the same connections and not counted.

    With `rate` (requests per second, in total) the run is open-loop: request i is due
    at start + i/rate and the connections are a pool that due requests wait for; the
    schedule holds the `warmup` requests first, then `requests` or those due within
    `duration_s` of the first measured one. Latencies run from each request's
    scheduled time, so queueing behind a slow server shows. Requests still waiting
    for a connection `request_timeout_s` after they were due count as errors.
    """
    if requests is None and duration_s is None:
        raise ValueError("give requests, duration_s or both: a load run must be bounded")
    if connections < 1:
        raise ValueError("connections must be at least 1")
    if rate is not None and not (rate > 0 and math.isfinite(rate)):
        raise ValueError("rate must be a positive number of requests per second")
    request = build_request(method=method, host=host, port=port, path=path, body=body, headers=headers)
    slots = [_Slot(host, port, request) for _ in range(connections)]
    try:
        if rate is not None:
            phase = _Phase(requests=requests, duration_s=duration_s, stream=stream)
            pacer = _Pacer(
                _Phase(requests=warmup, duration_s=None, stream=stream),
                phase,
                rate=rate,
                warmup=max(warmup, 0),
                measured=_scheduled_count(rate, requests, duration_s),
                timeout_s=request_timeout_s,
            )
            await _run_paced(slots, pacer, request_timeout_s)
            return phase.result()
        if warmup > 0:
            await _run_phase(slots, _Phase(requests=warmup, duration_s=duration_s, stream=stream), request_timeout_s)
        phase = _Phase(requests=requests, duration_s=duration_s, stream=stream)
        await _run_phase(slots, phase, request_timeout_s)
    finally:
        for slot in slots:
            slot.close()
    return phase.result()
