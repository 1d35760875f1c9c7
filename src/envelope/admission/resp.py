"""A lean Redis client for the admission hot path.

Every admitted request makes two Redis calls (admit, settle). Through redis-py's
asyncio client each cost ≈ 200 µs of gateway CPU here — more than the rest of the
gateway together. This client speaks just enough RESP2 for Envelope's scripts, over
one pipelined connection: calls from concurrent requests are written together once
per event-loop turn, and replies are matched to callers in order (Redis answers in
order). It loads the scripts on connect, re-loads them if Redis forgets them
(NOSCRIPT), fails every pending call with `StoreUnavailable` if the connection breaks
or a reply is later than `timeout_s`, and, after a failed connect, fails fast for
`retry_s` instead of paying a connect timeout per request while Redis is down.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import unquote, urlparse

from envelope.admission.ports import StoreUnavailable

Reply = int | bytes | None | list[Any]


class RedisReplyError(Exception):
    """Redis answered with an error (`-ERR …`)."""


@dataclass(frozen=True, slots=True)
class Address:
    host: str
    port: int
    db: int
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> Address:
        parts = urlparse(url)
        if parts.scheme != "redis":
            raise ValueError(f"the lean Redis client speaks redis:// only, not {parts.scheme}://")
        db = int(parts.path.lstrip("/") or 0)
        return cls(
            parts.hostname or "127.0.0.1",
            parts.port or 6379,
            db,
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None,
        )


def encode(args: tuple[Any, ...]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(out)


def parse(buffer: bytearray, start: int) -> tuple[Reply | RedisReplyError, int] | None:
    """One reply from `buffer` at `start`: (value, next offset), or None if incomplete."""
    end = buffer.find(b"\r\n", start)
    if end < 0:
        return None
    kind, line = buffer[start], bytes(buffer[start + 1 : end])
    after = end + 2
    if kind == 58:  # ':' integer
        return int(line), after
    if kind == 36:  # '$' bulk string
        size = int(line)
        if size < 0:
            return None, after
        if len(buffer) < after + size + 2:
            return None
        return bytes(buffer[after : after + size]), after + size + 2
    if kind == 42:  # '*' array
        count = int(line)
        if count < 0:
            return None, after
        items: list[Any] = []
        for _ in range(count):
            parsed = parse(buffer, after)
            if parsed is None:
                return None
            item, after = parsed
            items.append(item)
        return items, after
    if kind == 43:  # '+' simple string
        return line, after
    if kind == 45:  # '-' error
        return RedisReplyError(line.decode(errors="replace")), after
    raise StoreUnavailable(f"unreadable reply from Redis: {bytes(buffer[start : start + 40])!r}")


class _Connection(asyncio.Protocol):
    def __init__(self, on_lost: Any) -> None:
        self.transport: asyncio.Transport | None = None
        self.pending: deque[tuple[asyncio.Future[Any], float]] = deque()
        self._buffer = bytearray()
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._on_lost = on_lost

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses

    def send(self, data: bytes, future: asyncio.Future[Any]) -> None:
        self._out.append(data)
        self.pending.append((future, time.monotonic()))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self.transport is not None and self._out:
            self.transport.write(b"".join(self._out))
        self._out.clear()

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        offset = 0
        try:
            while offset < len(buffer):
                parsed = parse(buffer, offset)
                if parsed is None:
                    break
                value, offset = parsed
                future, _ = self.pending.popleft()
                if not future.done():
                    if isinstance(value, RedisReplyError):
                        future.set_exception(value)
                    else:
                        future.set_result(value)
        except (StoreUnavailable, ValueError, IndexError) as exc:
            self.fail(StoreUnavailable(f"Redis protocol error: {exc}"))
            return
        del buffer[:offset]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.fail(StoreUnavailable(f"Redis connection lost: {exc or 'closed'}"))
        self._on_lost(self)

    def fail(self, error: Exception) -> None:
        while self.pending:
            future, _ = self.pending.popleft()
            if not future.done():
                future.set_exception(error)
        if self.transport is not None:
            self.transport.close()

    def oldest(self) -> float | None:
        return self.pending[0][1] if self.pending else None


class RespClient:
    def __init__(self, url: str, *, timeout_s: float, scripts: dict[str, str], retry_s: float = 0.5) -> None:
        self._address = Address.parse(url)
        self._timeout = timeout_s
        self._retry = retry_s
        self._scripts = {name: (text, hashlib.sha1(text.encode()).hexdigest()) for name, text in scripts.items()}
        self._conn: _Connection | None = None
        self._connecting: asyncio.Future[_Connection] | None = None
        self._failed_at = -1e9
        self._watchdog: asyncio.Task[None] | None = None

    async def script(self, name: str, keys: list[str], args: list[Any]) -> Any:
        """Run a named script (EVALSHA, loading it again if Redis has forgotten it)."""
        _, sha = self._scripts[name]
        try:
            return await self.call("EVALSHA", sha, len(keys), *keys, *args)
        except RedisReplyError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise StoreUnavailable(f"Redis refused the {name} script: {exc}") from exc
            await self.call("SCRIPT", "LOAD", self._scripts[name][0])
            return await self.call("EVALSHA", sha, len(keys), *keys, *args)

    async def call(self, *args: Any) -> Any:
        conn = self._conn if self._conn is not None else await self._connect()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        conn.send(encode(args), future)
        return await future

    async def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._conn is not None and self._conn.transport is not None:
            self._conn.transport.close()
        self._conn = None

    async def _connect(self) -> _Connection:
        if self._connecting is not None:
            return await asyncio.shield(self._connecting)
        if time.monotonic() - self._failed_at < self._retry:
            raise StoreUnavailable("Redis was unreachable moments ago; not retrying yet")
        self._connecting = asyncio.get_running_loop().create_future()
        try:
            conn = await self._open()
        except (OSError, TimeoutError, RedisReplyError, StoreUnavailable) as exc:
            self._failed_at = time.monotonic()
            error = exc if isinstance(exc, StoreUnavailable) else StoreUnavailable(f"Redis unreachable: {exc}")
            self._connecting.set_exception(error)
            self._connecting.exception()  # retrieved: waiters get it through shield
            self._connecting = None
            raise error from exc
        self._conn = conn
        self._connecting.set_result(conn)
        self._connecting = None
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.create_task(self._watch(), name="redis-watchdog")
        return conn

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        a = self._address
        async with asyncio.timeout(self._timeout):
            _, conn = await loop.create_connection(lambda: _Connection(self._lost), a.host, a.port)
            setup: list[tuple[Any, ...]] = []
            if a.password is not None:
                setup.append(("AUTH", a.username, a.password) if a.username else ("AUTH", a.password))
            if a.db:
                setup.append(("SELECT", a.db))
            setup += [("SCRIPT", "LOAD", text) for text, _ in self._scripts.values()]
            futures = []
            for command in setup:
                future: asyncio.Future[Any] = loop.create_future()
                conn.send(encode(command), future)
                futures.append(future)
            await asyncio.gather(*futures)
        return conn

    def _lost(self, conn: _Connection) -> None:
        if self._conn is conn:
            self._conn = None

    async def _watch(self) -> None:
        """Fail a connection whose oldest pending reply is later than the timeout."""
        while True:
            await asyncio.sleep(max(self._timeout / 2, 0.01))
            conn = self._conn
            oldest = conn.oldest() if conn is not None else None
            if conn is not None and oldest is not None and time.monotonic() - oldest > self._timeout:
                self._conn = None
                conn.fail(StoreUnavailable(f"Redis did not answer within {self._timeout:g}s"))
