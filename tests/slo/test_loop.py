from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from envelope.slo.alerts import Alert, AlertEvent, Alerting
from envelope.slo.engine import SloEngine
from envelope.slo.loop import SloLoop
from envelope.slo.report import Report
from envelope.slo.sinks import Dispatcher
from tests.slo.scenario import objectives, settings, steady


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Recording:
    def __init__(self) -> None:
        self.events: list[AlertEvent] = []
        self.calls = 0

    async def deliver(self, events: Sequence[AlertEvent], firing: Sequence[Alert], now: float) -> None:
        self.calls += 1
        self.events.extend(events)


async def eventually(condition: object, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def test_the_loop_reports_alerts_and_resolves(caplog: pytest.LogCaptureFixture) -> None:
    s = settings()
    engine = SloEngine(s, objectives())
    sink = Recording()
    clock = Clock(60.0)
    loop = SloLoop(engine, Alerting(s), Dispatcher([sink]), interval_s=0.01, clock=clock)
    reports: list[Report] = []
    awaited: list[float] = []

    async def later(report: Report) -> None:
        await asyncio.sleep(0)
        awaited.append(report.at)

    def broken(report: Report) -> None:
        raise RuntimeError("subscriber bug")

    loop.on_report += [reports.append, broken, later]
    steady(engine, 0, 60, status=502)  # a minute of failures: the fast burn fires
    loop.start()
    await eventually(lambda: any(e.state == "firing" for e in sink.events))
    firing = next(e for e in sink.events if e.state == "firing")
    assert firing.alert.name == "EnvelopeAvailabilityBudgetBurn" and firing.at == 60.0
    assert reports and reports[-1].route("chat") is not None
    assert awaited  # async subscribers are awaited, after a broken one
    assert any("subscriber" in r.getMessage() for r in caplog.records)
    assert loop.last_report is not None
    steady(engine, 60, 80)  # healthy again, and time moves on
    clock.now = 80.0
    await eventually(lambda: any(e.state == "resolved" for e in sink.events))
    await loop.close()
    assert loop._task is None
    calls = sink.calls
    await asyncio.sleep(0.05)
    assert sink.calls == calls  # stopped: no evaluation after close


async def test_a_failing_evaluation_is_logged_and_the_loop_goes_on(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = settings()
    engine = SloEngine(s, objectives())
    sink = Recording()
    loop = SloLoop(engine, Alerting(s), Dispatcher([sink]), interval_s=0.01, clock=Clock(10.0))
    real = engine.evaluate
    failures = []

    def flaky(now: float) -> Report:
        if len(failures) < 2:
            failures.append(now)
            raise RuntimeError("boom")
        return real(now)

    monkeypatch.setattr(engine, "evaluate", flaky)
    loop.start()
    await eventually(lambda: sink.calls >= 2)
    await loop.close()
    assert len(failures) == 2
    assert sum("SLO evaluation failed" in r.getMessage() for r in caplog.records) == 2


async def test_close_without_start_and_tick_by_hand() -> None:
    s = settings()
    engine = SloEngine(s, objectives())
    loop = SloLoop(engine, Alerting(s), Dispatcher([]), interval_s=60, clock=Clock(60.0))
    await loop.close()
    steady(engine, 0, 60, status=502)
    events = await loop.tick()
    assert [e.state for e in events] == ["firing"]
    loop.start()
    await asyncio.sleep(0)
    await loop.close()  # does not wait for the 60 s interval
