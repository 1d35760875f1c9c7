"""Breaker openings shared across replicas through the admission store's Redis.

When a breaker opens on one replica, it writes `PREFIX breaker:DEPLOYMENT` with a time
to live of the breaker's `open_s`. Every replica reads all of them each
`breakers.poll_interval_s` and opens its own breaker until the same moment (pure rule:
`core/breaker.adopt`), so N replicas stop sending to a failing deployment after one of
them found it failing, instead of each finding it out with its own failed requests.

Nothing of this is on a request's path: the write is a task started when a breaker
opens, the read a loop of its own. If Redis is away, breakers simply stay per replica
(logged once per outage).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from envelope.admission.ports import StoreUnavailable
from envelope.admission.resp import RedisReplyError, RespClient
from envelope.catalog import ServedDeployment
from envelope.pipeline.fleet import Fleet

log = logging.getLogger("envelope.breakers")

# PTTL of every key, in one round trip: milliseconds left, or negative when absent.
_READ = """
local left = {}
for i, key in ipairs(KEYS) do left[i] = redis.call('PTTL', key) end
return left
"""


class SharedBreakers:
    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        timeout_s: float,
        poll_interval_s: float,
        deployments: Sequence[ServedDeployment],
    ) -> None:
        self._client = RespClient(url, timeout_s=timeout_s, scripts={"read": _READ})
        self._prefix = prefix
        self._timeout = timeout_s
        self._interval = poll_interval_s
        self._deployments = list(deployments)
        self._keys = [self._key(d) for d in self._deployments]
        self._fleet: Fleet | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._poller: asyncio.Task[None] | None = None
        self._healthy = True

    def start(self, fleet: Fleet) -> None:
        self._fleet = fleet
        self._poller = asyncio.get_running_loop().create_task(self._poll())

    def retarget(self, deployments: Sequence[ServedDeployment]) -> None:
        """A new config is active: watch its deployments from now on."""
        self._deployments = list(deployments)
        self._keys = [self._key(d) for d in self._deployments]

    def opened(self, deployment: ServedDeployment) -> None:
        """Fleet callback: a breaker opened here; tell the others (in the background)."""
        task = asyncio.get_running_loop().create_task(self._publish(deployment))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in [*self._tasks, *([self._poller] if self._poller else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._client.close()

    async def read_once(self) -> None:
        """Adopt every opening the other replicas published."""
        assert self._fleet is not None
        deployments, keys = self._deployments, self._keys  # as they were when asked (a retarget may follow)
        if not keys:
            return
        async with asyncio.timeout(self._timeout):
            left = await self._client.script("read", keys, [])
        now = time.monotonic()
        for deployment, ms in zip(deployments, left, strict=True):
            if int(ms) > 0:
                self._fleet.adopt(deployment, remaining_s=int(ms) / 1000.0, now=now)

    async def _publish(self, deployment: ServedDeployment) -> None:
        open_ms = max(1, int(deployment.doc.breaker.open_s * 1000))
        try:
            async with asyncio.timeout(self._timeout):
                await self._client.call("SET", self._key(deployment), "1", "PX", open_ms)
        except (OSError, TimeoutError, StoreUnavailable, RedisReplyError) as exc:
            self._unhealthy(exc)

    async def _poll(self) -> None:
        while True:
            try:
                await self.read_once()
                self._healthy = True
            except (OSError, TimeoutError, StoreUnavailable, RedisReplyError) as exc:
                self._unhealthy(exc)
            await asyncio.sleep(self._interval)

    def _unhealthy(self, exc: Exception) -> None:
        if self._healthy:
            log.warning("breaker sharing: Redis unavailable (%s); breakers are per replica until it is back", exc)
        self._healthy = False

    def _key(self, deployment: ServedDeployment) -> str:
        return f"{self._prefix}breaker:{deployment.doc.name}"
