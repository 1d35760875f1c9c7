"""What the exact cache needs of a store."""

from __future__ import annotations

from typing import Protocol


class AnswerStore(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, answer: bytes, ttl_s: float) -> None: ...

    async def purge(self, tenant: str | None = None) -> int:
        """Drop every entry (of `tenant`, if given); the number dropped."""
        ...

    async def close(self) -> None: ...
