from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from envelope.config.slo import AlertmanagerSinkDoc, LogSinkDoc, WebhookSinkDoc
from envelope.slo.alerts import Alert, AlertEvent
from envelope.slo.sinks import AlertmanagerSink, Dispatcher, LogSink, WebhookSink, build_sink, rfc3339
from tests.support.processes import free_port

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


def alert(
    name: str = "EnvelopeLatencyBudgetBurn", *, route: str = "chat", severity: str = "page", **times: Any
) -> Alert:
    return Alert(
        name=name,  # type: ignore[arg-type]
        severity=severity,  # type: ignore[arg-type]
        labels=(("alertname", name), ("route", route), ("severity", severity)),
        annotations=(("summary", f"route {route} burning"), ("runbook_url", f"docs/runbooks.md#{name}")),
        value=20.0,
        threshold=14.4,
        active_at=times.get("active_at", 1000.0),
        starts_at=times.get("starts_at", 1000.0),
        ends_at=times.get("ends_at"),
    )


def firing(a: Alert, at: float = 1000.0) -> AlertEvent:
    return AlertEvent("firing", a, at)


def resolved(a: Alert, at: float) -> AlertEvent:
    return AlertEvent("resolved", Alert(**{**_fields(a), "ends_at": at}), at)


def _fields(a: Alert) -> dict[str, Any]:
    return {name: getattr(a, name) for name in a.__dataclass_fields__}


class Receiver:
    """A real HTTP server on 127.0.0.1 that records what it is sent; answers `statuses` in turn."""

    def __init__(self, statuses: Sequence[int] = (200,)) -> None:
        self.statuses = list(statuses)
        self.bodies: list[Any] = []
        self.headers: list[Mapping[str, str]] = []
        self.port = free_port()
        self.runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        self.headers.append(request.headers.copy())  # case-insensitive
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return web.Response(status=status, text="ok" if status < 300 else "nope")

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


# --- log ---------------------------------------------------------------------------


async def test_log_sink_logs_by_severity(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="envelope.slo.alerts")
    page, ticket = alert(), alert("EnvelopeFallbackRateHigh", severity="ticket")
    events = [firing(page), firing(ticket), AlertEvent("pending", alert(severity="info"), 1000.0), resolved(page, 1100)]
    await LogSink().deliver(events, [], 1100.0)
    levels = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert [level for level, _ in levels] == [logging.ERROR, logging.WARNING, logging.WARNING]
    assert "EnvelopeLatencyBudgetBurn firing [page]" in levels[0][1]
    assert "docs/runbooks.md#EnvelopeLatencyBudgetBurn" in levels[0][1]
    assert "resolved" in levels[2][1]


# --- webhook -----------------------------------------------------------------------


async def test_webhook_posts_the_documented_shape(session: aiohttp.ClientSession) -> None:
    async with Receiver() as receiver:
        doc = WebhookSinkDoc(type="webhook", url=f"{receiver.url}/hook", headers={"authorization": "Bearer s3cret"})
        sink = WebhookSink(doc, session)
        a, b = alert(route="chat"), alert(route="faq")
        await sink.deliver([firing(a), resolved(b, 1060.0), AlertEvent("pending", alert(route="x"), 1000.0)], [], 1060)
        await sink.deliver([AlertEvent("pending", alert(route="y"), 1000.0)], [], 1061)  # nothing to say
    assert len(receiver.bodies) == 1
    body = receiver.bodies[0]
    assert receiver.headers[0]["authorization"] == "Bearer s3cret"
    assert body["version"] == "1" and body["status"] == "firing"
    first, second = body["alerts"]
    assert first["status"] == "firing" and second["status"] == "resolved"
    assert first["labels"] == {"alertname": "EnvelopeLatencyBudgetBurn", "route": "chat", "severity": "page"}
    assert first["annotations"]["runbook_url"] == "docs/runbooks.md#EnvelopeLatencyBudgetBurn"
    assert first["startsAt"] == rfc3339(1000.0) == "1970-01-01T00:16:40.000Z"
    assert "endsAt" not in first
    assert second["endsAt"] == rfc3339(1060.0)


async def test_webhook_retries_once_and_never_raises(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    async with Receiver(statuses=[500, 200]) as receiver:
        sink = WebhookSink(WebhookSinkDoc(type="webhook", url=receiver.url), session)
        await sink.deliver([firing(alert())], [], 1000.0)
    assert len(receiver.bodies) == 2  # the 500, then the retry taken
    async with Receiver(statuses=[503]) as receiver:
        sink = WebhookSink(WebhookSinkDoc(type="webhook", url=receiver.url), session)
        await sink.deliver([firing(alert())], [], 1000.0)
    assert len(receiver.bodies) == 2  # tried twice, then given up
    # nobody listening: logged, not raised
    caplog.clear()
    dead = WebhookSink(WebhookSinkDoc(type="webhook", url=f"http://127.0.0.1:{free_port()}", timeout_s=1), session)
    await dead.deliver([firing(alert())], [], 1000.0)
    assert sum("alert delivery" in r.getMessage() for r in caplog.records) == 2


async def test_webhook_timeout_is_explicit(session: aiohttp.ClientSession) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.Response()

    app = web.Application()
    app.router.add_post("/", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        sink = WebhookSink(WebhookSinkDoc(type="webhook", url=f"http://127.0.0.1:{port}/", timeout_s=0.2), session)
        started = time.monotonic()
        await sink.deliver([firing(alert())], [], 1000.0)
        assert time.monotonic() - started < 1.5  # two attempts of 0.2 s, not the server's 2 s
    finally:
        await runner.cleanup()


# --- Alertmanager: resend logic against a recording server ------------------------------


async def test_alertmanager_sink_resends_firing_alerts(session: aiohttp.ClientSession) -> None:
    async with Receiver() as receiver:
        doc = AlertmanagerSinkDoc(type="alertmanager", url=receiver.url + "/", resend_interval_s=60)
        sink = AlertmanagerSink(doc, session)
        a = alert()
        await sink.deliver([firing(a)], [a], 1000.0)
        await sink.deliver([], [a], 1010.0)  # not due
        b = alert(route="faq", starts_at=1020.0)
        await sink.deliver([firing(b)], [a, b], 1020.0)  # a new one goes at once, alone
        await sink.deliver([], [a, b], 1061.0)  # due: everything firing
        await sink.deliver([resolved(a, 1070.0)], [b], 1070.0)  # a resolution goes at once
    assert [[x["labels"]["route"] for x in body] for body in receiver.bodies] == [
        ["chat"],
        ["faq"],
        ["chat", "faq"],
        ["chat"],
    ]
    first = receiver.bodies[0][0]
    assert first["endsAt"] == rfc3339(1000.0 + 240)  # four resend intervals ahead
    assert "status" not in first and "generatorURL" not in first
    assert receiver.bodies[3][0]["endsAt"] == rfc3339(1070.0)


async def test_alertmanager_sink_keeps_resolutions_while_away(session: aiohttp.ClientSession) -> None:
    async with Receiver(statuses=[500, 500, 200]) as receiver:
        sink = AlertmanagerSink(AlertmanagerSinkDoc(type="alertmanager", url=receiver.url), session)
        a = alert()
        await sink.deliver([resolved(a, 1000.0)], [], 1000.0)  # refused twice
        await sink.deliver([], [], 1015.0)  # sent again from the backlog
    assert len(receiver.bodies) == 3
    assert receiver.bodies[2][0]["endsAt"] == rfc3339(1000.0)


# --- Alertmanager: the real thing -----------------------------------------------------


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("alertmanager")
    config = directory / "alertmanager.yml"
    config.write_text('route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n')
    port = free_port()
    log = (directory / "log").open("wb")
    proc = subprocess.Popen(
        [
            ALERTMANAGER,
            f"--config.file={config}",
            f"--storage.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc, directory / "log")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"alertmanager exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"alertmanager not ready: {log.read_text()[-2000:]}")


async def _alerts(session: aiohttp.ClientSession, url: str) -> list[dict[str, Any]]:
    async with session.get(f"{url}/api/v2/alerts") as answer:
        assert answer.status == 200
        found: list[dict[str, Any]] = json.loads(await answer.text())
        return found


async def test_alertmanager_receives_and_resolves(alertmanager: str, session: aiohttp.ClientSession) -> None:
    doc = AlertmanagerSinkDoc(
        type="alertmanager", url=alertmanager, resend_interval_s=60, generator_url="http://envelope.example/slo"
    )
    sink = build_sink(doc, session)
    now = time.time()
    a = alert("EnvelopeAvailabilityBudgetBurn", route="chat-am", active_at=now, starts_at=now)
    await sink.deliver([firing(a, now)], [a], now)
    found = [x for x in await _alerts(session, alertmanager) if x["labels"].get("route") == "chat-am"]
    assert len(found) == 1
    got = found[0]
    assert got["labels"] == {"alertname": "EnvelopeAvailabilityBudgetBurn", "route": "chat-am", "severity": "page"}
    assert got["annotations"]["runbook_url"] == "docs/runbooks.md#EnvelopeAvailabilityBudgetBurn"
    assert got["status"]["state"] == "active"
    assert got["generatorURL"] == "http://envelope.example/slo"
    later = time.time()
    await sink.deliver([resolved(a, later)], [], later)
    await asyncio.sleep(0.05)
    remaining = [x for x in await _alerts(session, alertmanager) if x["labels"].get("route") == "chat-am"]
    assert remaining == []  # resolved: no longer among the active alerts


# --- registry and dispatcher ----------------------------------------------------------


async def test_build_sink_picks_by_type(session: aiohttp.ClientSession) -> None:
    assert isinstance(build_sink(LogSinkDoc(type="log"), session), LogSink)
    assert isinstance(build_sink(WebhookSinkDoc(type="webhook", url="http://x"), session), WebhookSink)
    assert isinstance(build_sink(AlertmanagerSinkDoc(type="alertmanager", url="http://x"), session), AlertmanagerSink)


class Broken:
    async def deliver(self, events: Sequence[AlertEvent], firing: Sequence[Alert], now: float) -> None:
        raise RuntimeError("bug")


class Collecting:
    def __init__(self) -> None:
        self.seen: list[tuple[list[AlertEvent], list[Alert], float]] = []

    async def deliver(self, events: Sequence[AlertEvent], firing: Sequence[Alert], now: float) -> None:
        self.seen.append((list(events), list(firing), now))


async def test_dispatcher_fans_out_and_survives_a_broken_sink(caplog: pytest.LogCaptureFixture) -> None:
    a, b = Collecting(), Collecting()
    dispatcher = Dispatcher([a, Broken(), b])
    event = firing(alert())
    await dispatcher.deliver([event], [event.alert], 5.0)
    assert a.seen == b.seen == [([event], [event.alert], 5.0)]
    assert any("alert sink Broken failed" in r.getMessage() for r in caplog.records)
