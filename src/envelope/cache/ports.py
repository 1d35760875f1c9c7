"""What the cache needs of its stores: answers by key, and the semantic index's feed."""

from __future__ import annotations

from typing import Protocol

from envelope.admission.ports import StoreUnavailable
from envelope.admission.resp import RedisReplyError

# What a failing or slow cache store raises: the cache then counts a miss.
STORE_ERRORS = (OSError, TimeoutError, StoreUnavailable, RedisReplyError)


class AnswerStore(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, answer: bytes, ttl_s: float) -> None: ...

    async def purge(self, tenant: str | None = None, route: str | None = None) -> int:
        """Drop every entry (of `tenant` and/or `route`, if given); the number dropped."""
        ...

    async def close(self) -> None: ...


class IndexFeed(Protocol):
    """An ordered, shared log of semantic-index changes (additions, drops, purges): a
    replica seeds its index from it at start and follows it after. Ids are opaque and
    increasing; `read` returns records after `after` ("" = from the start)."""

    async def publish(self, record: bytes) -> None: ...

    async def read(self, after: str, count: int) -> list[tuple[str, bytes]]: ...

    async def close(self) -> None: ...
