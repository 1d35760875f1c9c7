"""The exact cache in process: least recently used out past `max_entries`, each entry
with its own expiry. Per replica; `redis://` shares one cache between replicas."""

from __future__ import annotations

import time
from collections import OrderedDict

from envelope.core.cache_key import owned


class MemoryAnswers:
    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    async def put(self, key: str, answer: bytes, ttl_s: float) -> None:
        self._entries[key] = (time.monotonic() + ttl_s, answer)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def purge(self, tenant: str | None = None, route: str | None = None) -> int:
        if tenant is None and route is None:
            dropped = len(self._entries)
            self._entries.clear()
            return dropped
        doomed = [k for k in self._entries if owned(k, tenant, route)]
        for key in doomed:
            del self._entries[key]
        return len(doomed)

    async def close(self) -> None:
        self._entries.clear()
