"""The cache in Redis, shared by every replica.

Answers: `PREFIX cache:TENANT:ROUTE:DIGEST` → the answer, with the TTL of its
volatility class. A purge walks the keys with SCAN (never KEYS, which blocks Redis)
and deletes them in batches.

The semantic index's feed: a Redis stream `PREFIX cache-feed`, capped near
`max_records` (the oldest go first, as they do from the indexes).
"""

from __future__ import annotations

import asyncio
from typing import Any

from envelope.admission.resp import RespClient
from envelope.core.cache_key import label


class RedisAnswers:
    def __init__(self, url: str, *, prefix: str, timeout_s: float) -> None:
        self._client = RespClient(url, timeout_s=timeout_s, scripts={})
        self._prefix = f"{prefix}cache:"
        self._timeout = timeout_s

    async def get(self, key: str) -> bytes | None:
        async with asyncio.timeout(self._timeout):
            value: Any = await self._client.call("GET", self._prefix + key)
        return value if isinstance(value, bytes) else None

    async def put(self, key: str, answer: bytes, ttl_s: float) -> None:
        async with asyncio.timeout(self._timeout):
            await self._client.call("SET", self._prefix + key, answer, "PX", max(1, int(ttl_s * 1000)))

    async def purge(self, tenant: str | None = None, route: str | None = None) -> int:
        owner = _glob_escape(label(tenant)) if tenant is not None else "*"
        name = _glob_escape(label(route)) if route is not None else "*"
        pattern = f"{self._prefix}{owner}:{name}:*"
        cursor, dropped = b"0", 0
        while True:
            cursor, keys = await self._client.call("SCAN", cursor, "MATCH", pattern, "COUNT", 500)
            if keys:
                dropped += int(await self._client.call("DEL", *keys))
            if cursor in (b"0", "0", 0):
                return dropped

    async def close(self) -> None:
        await self._client.close()


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class RedisFeed:
    def __init__(self, url: str, *, prefix: str, timeout_s: float, max_records: int) -> None:
        self._client = RespClient(url, timeout_s=timeout_s, scripts={})
        self._key = f"{prefix}cache-feed"
        self._timeout = timeout_s
        self._max = max_records

    async def publish(self, record: bytes) -> None:
        async with asyncio.timeout(self._timeout):
            await self._client.call("XADD", self._key, "MAXLEN", "~", self._max, "*", "r", record)

    async def read(self, after: str, count: int) -> list[tuple[str, bytes]]:
        start = f"({after}" if after else "-"
        async with asyncio.timeout(self._timeout):
            rows: Any = await self._client.call("XRANGE", self._key, start, "+", "COUNT", count)
        return [(bytes(rid).decode(), fields[1]) for rid, fields in rows]

    async def close(self) -> None:
        await self._client.close()
