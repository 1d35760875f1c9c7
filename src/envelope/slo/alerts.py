"""Alert state machine: conditions over time become alert transitions. Pure.

    inactive ──condition holds──▶ pending ──held for for_s──▶ firing ──gone──▶ resolved
                                     │                                (after keep_firing_s)
                                     └──gone before for_s──▶ inactive

An alert is identified by its labels (alertname, route or tenant, objective and
window for burn rates, severity). `Alerting.step(report, now)` returns the transitions
of this evaluation as `AlertEvent`s; sinks deliver the firing and resolved ones.

Severities (SRE workbook): `page` wakes a human now, `ticket` is for working hours,
`info` is recorded only. Every alert carries `runbook_url` = `{runbook_base}#<alertname>`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from envelope.config.slo import AlertName, Severity, SloSettingsDoc
from envelope.slo.conditions import Condition, Labels, conditions
from envelope.slo.report import Report

AlertState = Literal["pending", "firing", "resolved", "inactive"]


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert as of its last transition or evaluation. Times are wall-clock seconds:
    `active_at` when its condition began to hold, `starts_at` when it fired, `ends_at`
    when it resolved (None until then)."""

    name: AlertName
    severity: Severity
    labels: Labels
    annotations: Labels
    value: float
    threshold: float
    active_at: float
    starts_at: float | None = None
    ends_at: float | None = None

    def label(self, name: str) -> str | None:
        return dict(self.labels).get(name)

    def annotation(self, name: str) -> str | None:
        return dict(self.annotations).get(name)


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One transition: the alert entered `state` at `at`."""

    state: AlertState
    alert: Alert
    at: float


@dataclass(slots=True)
class _Tracked:
    alert: Alert
    for_s: float
    held_at: float  # last evaluation the condition held


class Alerting:
    """The alert state of the gateway, stepped once per evaluation."""

    def __init__(self, settings: SloSettingsDoc) -> None:
        self._settings = settings
        self._alerts: dict[Labels, _Tracked] = {}

    def step(self, report: Report, now: float) -> list[AlertEvent]:
        """The transitions caused by `report` at `now`."""
        held = {c.labels: c for c in conditions(report, self._settings)}
        events: list[AlertEvent] = []
        for key, condition in held.items():
            tracked = self._alerts.get(key)
            if tracked is None:
                alert = self._alert(condition, active_at=now)
                tracked = self._alerts[key] = _Tracked(alert, condition.for_s, now)
                if condition.for_s > 0:
                    events.append(AlertEvent("pending", alert, now))
            else:
                tracked.alert = self._alert(
                    condition, active_at=tracked.alert.active_at, starts_at=tracked.alert.starts_at
                )
                tracked.held_at = now
            if tracked.alert.starts_at is None and now - tracked.alert.active_at >= tracked.for_s:
                tracked.alert = dataclasses.replace(tracked.alert, starts_at=now)
                events.append(AlertEvent("firing", tracked.alert, now))
        for key in [k for k in self._alerts if k not in held]:
            tracked = self._alerts[key]
            if tracked.alert.starts_at is None:
                del self._alerts[key]
                events.append(AlertEvent("inactive", tracked.alert, now))
            elif now - tracked.held_at >= self._settings.keep_firing_s:
                del self._alerts[key]
                events.append(AlertEvent("resolved", dataclasses.replace(tracked.alert, ends_at=now), now))
        return events

    def firing(self) -> list[Alert]:
        """Alerts firing now."""
        return [t.alert for t in self._alerts.values() if t.alert.starts_at is not None]

    def pending(self) -> list[Alert]:
        """Alerts whose condition holds, not yet for long enough."""
        return [t.alert for t in self._alerts.values() if t.alert.starts_at is None]

    def _alert(self, condition: Condition, *, active_at: float, starts_at: float | None = None) -> Alert:
        runbook = f"{self._settings.runbook_base}#{condition.name}"
        return Alert(
            name=condition.name,
            severity=condition.severity,
            labels=condition.labels,
            annotations=(
                ("summary", condition.summary),
                ("runbook_url", runbook),
                ("value", f"{condition.value:.6g}"),
                ("threshold", f"{condition.threshold:.6g}"),
            ),
            value=condition.value,
            threshold=condition.threshold,
            active_at=active_at,
            starts_at=starts_at,
        )
