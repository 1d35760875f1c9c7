"""The SLO engine's background task: evaluate every interval, step the alerts, deliver.

One task, started by `start()` and awaited by `close()`. An iteration that fails is
logged and the loop goes on. Subscribers (`on_report`, e.g. the adaptive controller)
get every report before the alerts are stepped; a subscriber that fails is logged and
the others still run.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable

from envelope.slo.alerts import Alert, AlertEvent, Alerting
from envelope.slo.engine import SloEngine
from envelope.slo.report import Report
from envelope.slo.sinks import Dispatcher

log = logging.getLogger("envelope.slo")

ReportHook = Callable[[Report], Awaitable[None] | None]


class SloLoop:
    def __init__(
        self,
        engine: SloEngine,
        alerting: Alerting,
        dispatcher: Dispatcher,
        *,
        interval_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.alerting = alerting
        self.dispatcher = dispatcher
        self.interval_s = interval_s
        self.clock = clock
        self.on_report: list[ReportHook] = []
        self.on_alerts: list[Callable[[list[Alert]], None]] = []  # told the firing alerts after each step
        self.last_report: Report | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(self._run(), name="slo-loop")

    async def close(self) -> None:
        """Stop the loop and wait for it; an evaluation under way finishes first."""
        self._stop.set()
        if self._task is not None:
            task, self._task = self._task, None
            await task

    async def tick(self) -> list[AlertEvent]:
        """One evaluation: report, subscribers, alert transitions, delivery."""
        now = self.clock()
        report = self.engine.evaluate(now)
        self.last_report = report
        for hook in list(self.on_report):
            try:
                result = hook(report)
                if inspect.isawaitable(result):
                    await result
            except Exception:  # the outer shell: a subscriber's failure must not stop alerting
                log.exception("SLO report subscriber %r failed", hook)
        events = self.alerting.step(report, now)
        firing = self.alerting.firing()
        await self.dispatcher.deliver(events, firing, now)
        for told in self.on_alerts:
            told(firing)
        return events

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.tick()
            except Exception:  # the outer shell of a background task: the next interval tries again
                log.exception("SLO evaluation failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval_s)
