"""Where alert transitions go: the log, a webhook, Prometheus Alertmanager. The I/O shell.

Every sink gets, once per evaluation, the transitions of that evaluation and the alerts
firing now (`Sink.deliver`); only firing and resolved transitions are delivered.
Delivery never raises into the caller: failures are logged (and each POST is retried
once). `build_sink` is the one place a sink document becomes a sink.

Webhook body (one POST per evaluation with transitions; `status` is `firing` when any
alert in it fires)::

    {"version": "1", "status": "firing" | "resolved",
     "alerts": [{"status": "firing" | "resolved",
                 "labels": {"alertname": ..., "severity": ..., "route" | "tenant": ...},
                 "annotations": {"summary": ..., "runbook_url": ..., "value": ..., "threshold": ...},
                 "startsAt": RFC 3339, "endsAt": RFC 3339 (resolved alerts only)}]}

Alertmanager: `POST {url}/api/v2/alerts` with its v2 alert list. Firing alerts are
re-sent every `resend_interval_s` with `endsAt` four intervals ahead (as Prometheus
does), so Alertmanager resolves them by itself if Envelope goes away; resolved alerts
are sent once with their `endsAt`.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Sequence
from typing import Literal, Protocol

import aiohttp
import msgspec

from envelope.config.slo import AlertmanagerSinkDoc, LogSinkDoc, SinkDoc, WebhookSinkDoc
from envelope.slo.alerts import Alert, AlertEvent

log = logging.getLogger("envelope.slo.alerts")

MAX_BACKLOG = 1000  # resolved alerts kept for the next attempt while Alertmanager is away


class Sink(Protocol):
    async def deliver(self, events: Sequence[AlertEvent], firing: Sequence[Alert], now: float) -> None:
        """Deliver this evaluation's transitions (`firing`: every alert firing now)."""
        ...


def rfc3339(ts: float) -> str:
    moment = datetime.datetime.fromtimestamp(ts, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _notices(events: Sequence[AlertEvent]) -> list[AlertEvent]:
    return [e for e in events if e.state in ("firing", "resolved")]


# --- log -------------------------------------------------------------------------


class LogSink:
    """page → ERROR, ticket → WARNING, info → INFO; resolutions one level milder, at least INFO."""

    def __init__(self, logger: logging.Logger = log) -> None:
        self._log = logger

    async def deliver(self, events: Sequence[AlertEvent], firing: Sequence[Alert], now: float) -> None:
        for event in _notices(events):
            alert = event.alert
            level = (
                logging.ERROR
                if alert.severity == "page"
                else logging.WARNING
                if alert.severity == "ticket"
                else logging.INFO
            )
            if event.state == "resolved":
                level = max(logging.INFO, level - 10)
            self._log.log(
                level,
                "alert %s %s [%s]: %s (%s)",
                alert.name,
                event.state,
                alert.severity,
                alert.annotation("summary"),
                alert.annotation("runbook_url"),
            )


# --- webhook ---------------------------------------------------------------------


class WireAlert(
    msgspec.Struct,
    omit_defaults=True,
    rename={"starts_at": "startsAt", "ends_at": "endsAt", "generator_url": "generatorURL"},
):
    """An alert on the wire: Alertmanager's v2 shape; the webhook adds `status`."""

    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str
    ends_at: str | None = None
    generator_url: str | None = None
    status: Literal["firing", "resolved"] | None = None


class WebhookBody(msgspec.Struct):
    status: Literal["firing", "resolved"]
    alerts: list[WireAlert]
    version: str = "1"


def wire(
    alert: Alert, *, ends_at: float | None, generator_url: str | None = None, with_status: bool = False
) -> WireAlert:
    return WireAlert(
        status=("resolved" if alert.ends_at is not None else "firing") if with_status else None,
        labels=dict(alert.labels),
        annotations=dict(alert.annotations),
        starts_at=rfc3339(alert.starts_at if alert.starts_at is not None else alert.active_at),
        ends_at=None if ends_at is None else rfc3339(ends_at),
        generator_url=generator_url,
    )


async def post(
    session: aiohttp.ClientSession, url: str, body: bytes, *, timeout_s: float, headers: dict[str, str]
) -> bool:
    """POST `body`, retried once; whether it was taken (2xx). Failures are logged, never raised."""
    for attempt in (1, 2):
        try:
            async with session.post(
                url,
                data=body,
                headers={"content-type": "application/json", **headers},
                timeout=aiohttp.ClientTimeout(total=timeout_s),
            ) as answer:
                if answer.status < 300:
                    return True
                detail = f"HTTP {answer.status}: {(await answer.text())[:200]}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            detail = f"{type(exc).__name__}: {exc}"
        log.warning("alert delivery to %s failed (attempt %d of 2): %s", url, attempt, detail)
    return False


class WebhookSink:
    def __init__(self, doc: WebhookSinkDoc, session: aiohttp.ClientSession) -> None:
        self._doc = doc
        self._session = session

    async def deliver(self, events: Sequence[AlertEvent], firing: Sequence[Alert], now: float) -> None:
        notices = _notices(events)
        if not notices:
            return
        alerts = [wire(e.alert, ends_at=e.alert.ends_at, with_status=True) for e in notices]
        status: Literal["firing", "resolved"] = "firing" if any(a.status == "firing" for a in alerts) else "resolved"
        body = msgspec.json.encode(WebhookBody(status=status, alerts=alerts))
        await post(self._session, self._doc.url, body, timeout_s=self._doc.timeout_s, headers=self._doc.headers)


# --- Alertmanager ----------------------------------------------------------------


class AlertmanagerSink:
    def __init__(self, doc: AlertmanagerSinkDoc, session: aiohttp.ClientSession) -> None:
        self._doc = doc
        self._session = session
        self._url = doc.url.rstrip("/") + "/api/v2/alerts"
        self._resent_at = float("-inf")
        self._backlog: list[Alert] = []  # resolved alerts not yet taken

    async def deliver(self, events: Sequence[AlertEvent], firing: Sequence[Alert], now: float) -> None:
        doc = self._doc
        resolved = [*self._backlog, *(e.alert for e in events if e.state == "resolved")][-MAX_BACKLOG:]
        resend = now - self._resent_at >= doc.resend_interval_s
        fired = list(firing) if resend else [e.alert for e in events if e.state == "firing"]
        if not fired and not resolved:
            return
        ends_at = now + 4 * doc.resend_interval_s
        alerts = [wire(a, ends_at=ends_at, generator_url=doc.generator_url) for a in fired]
        alerts += [wire(a, ends_at=a.ends_at, generator_url=doc.generator_url) for a in resolved]
        taken = await post(self._session, self._url, msgspec.json.encode(alerts), timeout_s=doc.timeout_s, headers={})
        self._backlog = [] if taken else resolved
        if taken and resend:
            self._resent_at = now
        elif not taken:
            self._resent_at = float("-inf")  # send every firing alert at the next evaluation


# --- registry and fan-out --------------------------------------------------------


def build_sink(doc: SinkDoc, session: aiohttp.ClientSession) -> Sink:
    """The sink a document describes (the one place sinks are chosen by type)."""
    match doc:
        case LogSinkDoc():
            return LogSink()
        case WebhookSinkDoc():
            return WebhookSink(doc, session)
        case AlertmanagerSinkDoc():
            return AlertmanagerSink(doc, session)


class Dispatcher:
    """Fans each evaluation's transitions out to every sink, concurrently."""

    def __init__(self, sinks: Sequence[Sink]) -> None:
        self.sinks = list(sinks)

    @classmethod
    def of(cls, docs: Sequence[SinkDoc], session: aiohttp.ClientSession) -> Dispatcher:
        return cls([build_sink(doc, session) for doc in docs])

    async def deliver(self, events: Sequence[AlertEvent], firing: Sequence[Alert], now: float) -> None:
        await asyncio.gather(*(self._one(sink, events, firing, now) for sink in self.sinks))

    async def _one(self, sink: Sink, events: Sequence[AlertEvent], firing: Sequence[Alert], now: float) -> None:
        try:
            await sink.deliver(events, firing, now)
        except Exception:  # the outer shell: one sink's bug must not stop the others
            log.exception("alert sink %s failed", type(sink).__name__)
