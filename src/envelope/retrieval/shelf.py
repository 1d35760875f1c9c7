"""The knowledge bases a gateway serves from, kept at their current versions.

At start the shelf loads every base a route retrieves from (a missing one is logged;
its routes answer without context, `retrieval_skipped:unavailable`, until it appears).
A background task reads each base's CURRENT every `poll_interval_s`; a new version is
loaded in a worker thread and swapped in whole, and then `on_change(name)` runs — the
gateway drops the cached answers of the routes that use the base (event `kb:NAME`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable

from envelope.retrieval.library import KnowledgeBase, KnowledgeBaseError, Library

log = logging.getLogger("envelope.retrieval")


class Shelf:
    def __init__(
        self,
        library: Library,
        names: Iterable[str],
        *,
        poll_interval_s: float,
        on_change: Callable[[str], Awaitable[object]] | None = None,
    ) -> None:
        self._library = library
        self._names = sorted(set(names))
        self._poll_interval_s = poll_interval_s
        self._on_change = on_change
        self._bases: dict[str, KnowledgeBase] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def names(self) -> list[str]:
        return self._names

    def get(self, name: str) -> KnowledgeBase | None:
        return self._bases.get(name)

    async def start(self) -> None:
        for name in self._names:
            await self._refresh(name, announce=False)
        if self._names:
            self._task = asyncio.create_task(self._poll(), name="envelope-knowledge-poll")

    async def refresh(self) -> list[str]:
        """Look for new versions now; the names of the bases that changed."""
        return [name for name in self._names if await self._refresh(name, announce=True)]

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_interval_s)
            await self.refresh()

    async def _refresh(self, name: str, *, announce: bool) -> bool:
        loaded = self._bases.get(name)
        current = await asyncio.to_thread(self._library.current, name)
        if current == (loaded.version if loaded else None):
            return False
        if current is None:  # deleted
            del self._bases[name]
            log.warning("knowledge base %r was deleted; its routes answer without context", name)
        else:
            try:
                self._bases[name] = await asyncio.to_thread(self._library.load, name, current)
            except KnowledgeBaseError as exc:
                log.warning("%s; keeping the version loaded before", exc)
                return False
            log.info("knowledge base %r: version %d loaded", name, current)
        if announce and self._on_change is not None:
            await self._on_change(name)
        return True
