"""Keeps a running gateway on the registry's active config version.

Every `interval_s` the follower reads the active version's number (one small read);
when it moved, the version is loaded, validated and handed to the gateway, which builds
it and swaps it in atomically (`Gateway.activate`). Every replica polls the same
pointer, so an `envelope apply` or `rollback` reaches all of them within one interval,
without a restart. A version that cannot be built is logged, counted and skipped (the
running one stays) until the pointer moves again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from envelope.config.documents import ConfigSet
from envelope.registry.registry import Registry, RegistryError
from envelope.ticker import Ticker

log = logging.getLogger("envelope.registry")

Activate = Callable[[ConfigSet, int], Awaitable[None]]


class Follower:
    def __init__(self, registry: Registry, activate: Activate, *, interval_s: float, current: int | None) -> None:
        self._registry = registry
        self._activate = activate
        self._current = current
        self._failed: int | None = None  # the last version that could not be activated here
        self._reachable = True
        self._ticker = Ticker("registry-follower", interval_s, self.check)

    @property
    def registry(self) -> Registry:
        return self._registry

    @property
    def current(self) -> int | None:
        return self._current

    def start(self) -> None:
        self._ticker.start()

    async def close(self) -> None:
        await self._ticker.close()

    async def check(self) -> bool:
        """Follow the pointer once; True if a new version was activated here."""
        try:
            number = await self._registry.active_version()
        except (OSError, TimeoutError) as exc:
            if self._reachable:
                log.warning("registry unreachable (%s); serving version %s until it is back", exc, self._current)
            self._reachable = False
            return False
        self._reachable = True
        if number is None or number == self._current or number == self._failed:
            return False
        try:
            config = await self._registry.config(number)
            await self._activate(config, number)
        except (RegistryError, ValueError, OSError, RuntimeError) as exc:
            self._failed = number
            log.error("config version %d cannot be activated here (%s); still serving %s", number, exc, self._current)
            return False
        self._current, self._failed = number, None
        return True
