"""Config documents of the SLO engine and its alerts (`envelope.slo`).

`SloSettingsDoc` is the gateway-wide part (`gateway.slo`): bucket widths, windows,
burn-rate pairs, the thresholds of the other alerts, and where alerts go. `RouteSloDoc`
is a route's part (`route.slo`): its objective fractions and per-route overrides; the
latency and TTFT targets themselves stay in `route.latency`.

Severities follow the Google SRE workbook: `page` (a human now), `ticket` (a human
today), `info` (record only). Every alert links to `{runbook_base}#<alert name>`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from envelope.config.base import Document

Severity = Literal["page", "ticket", "info"]
AlertName = Literal[
    "EnvelopeLatencyBudgetBurn",
    "EnvelopeAvailabilityBudgetBurn",
    "EnvelopeTtftP95High",
    "EnvelopeCostAnomaly",
    "EnvelopeTenantCostAnomaly",
    "EnvelopeCacheHitRegression",
    "EnvelopeFallbackRateHigh",
    "EnvelopeRetryAmplification",
]

HOUR = 3600.0
DAY = 24 * HOUR


# --- burn-rate alerts ------------------------------------------------------------


class BurnWindowDoc(Document):
    """One multi-window burn-rate condition: the error budget burns at least `factor`
    times the sustainable rate over both the long and the short window."""

    long_s: float = Field(gt=0, description="The long window, e.g. 3600 (1 h)")
    short_s: float = Field(gt=0, description="The short window that confirms it is still burning, e.g. 300 (5 min)")
    factor: float = Field(gt=0, description="Least burn rate (1 = the budget lasts exactly the SLO period)")
    severity: Severity = Field(default="page", description="page, ticket or info")

    @model_validator(mode="after")
    def _short_within_long(self) -> BurnWindowDoc:
        if self.short_s > self.long_s:
            raise ValueError("burn window: short_s must not exceed long_s")
        return self


def default_burn_windows() -> list[BurnWindowDoc]:
    """The SRE workbook's three pairs for a 30-day period."""
    return [
        BurnWindowDoc(long_s=HOUR, short_s=300, factor=14.4, severity="page"),
        BurnWindowDoc(long_s=6 * HOUR, short_s=1800, factor=6.0, severity="page"),
        BurnWindowDoc(long_s=3 * DAY, short_s=6 * HOUR, factor=1.0, severity="ticket"),
    ]


class BurnAlertsDoc(Document):
    windows: list[BurnWindowDoc] = Field(
        default_factory=default_burn_windows, description="Window pairs and factors; each pair is its own alert"
    )
    min_events: int = Field(
        default=20, ge=0, description="Least events in the long window before a burn rate can alert (low traffic)"
    )
    for_s: float = Field(default=0.0, ge=0, description="How long the condition holds before the alert fires")


# --- the other alerts ------------------------------------------------------------


class TtftAlertDoc(Document):
    """TTFT p95 over the route's `latency.ttft_ms`, over the rolling window."""

    enabled: bool = Field(default=True, description="Raise this alert at all")
    min_requests: int = Field(default=20, ge=1, description="Least streamed requests in the window")
    for_s: float = Field(default=300.0, ge=0, description="How long the condition holds before the alert fires")
    severity: Severity = Field(default="ticket", description="page, ticket or info")


class CostAnomalyDoc(Document):
    """Spend in the last `window_s` over `factor` × the mean spend per `window_s` over the
    `baseline_s` before it, per tenant and overall."""

    enabled: bool = Field(default=True, description="Raise this alert at all")
    factor: float = Field(default=3.0, gt=1, description="How many times the baseline counts as an anomaly")
    window_s: float = Field(default=HOUR, gt=0, description="The spend compared (the last hour)")
    baseline_s: float = Field(default=DAY, gt=0, description="History before the window whose mean is the baseline")
    min_baseline_usd: float = Field(
        default=0.01, ge=0, description="Least baseline (USD per window) to compare against: a new tenant never alerts"
    )
    min_spend_usd: float = Field(default=1.0, ge=0, description="Least spend in the window that can alert")
    min_history_s: float = Field(
        default=6 * HOUR, ge=0, description="Least history seen before the window; the baseline is the mean over it"
    )
    for_s: float = Field(default=600.0, ge=0, description="How long the condition holds before the alert fires")
    severity: Severity = Field(default="ticket", description="page, ticket or info")


class CacheRegressionDoc(Document):
    """The cache hit rate over `window_s` fell below (1 − `drop`) × the rate over `baseline_s`."""

    enabled: bool = Field(default=True, description="Raise this alert at all")
    drop: float = Field(default=0.5, gt=0, lt=1, description="Relative fall of the hit rate that alerts")
    window_s: float = Field(default=900.0, gt=0, description="The recent window")
    baseline_s: float = Field(default=6 * HOUR, gt=0, description="The baseline window (it includes the recent one)")
    min_requests: int = Field(default=50, ge=1, description="Least requests in the recent window")
    min_baseline_rate: float = Field(default=0.05, ge=0, le=1, description="Routes that hit less never alert")
    for_s: float = Field(default=300.0, ge=0, description="How long the condition holds before the alert fires")
    severity: Severity = Field(default="ticket", description="page, ticket or info")


class RateAlertDoc(Document):
    """A per-request rate over a threshold (fallbacks per request, attempts per upstream request)."""

    enabled: bool = Field(default=True, description="Raise this alert at all")
    threshold: float = Field(gt=0, description="The rate that alerts when exceeded")
    window_s: float = Field(default=600.0, gt=0, description="The window the rate is measured over")
    min_requests: int = Field(default=20, ge=1, description="Least requests in the window")
    for_s: float = Field(default=300.0, ge=0, description="How long the condition holds before the alert fires")
    severity: Severity = Field(default="ticket", description="page, ticket or info")


# --- sinks -----------------------------------------------------------------------


class LogSinkDoc(Document):
    """Alerts as log lines: page → ERROR, ticket → WARNING, info → INFO."""

    type: Literal["log"]


class WebhookSinkDoc(Document):
    """POST of a JSON document per evaluation with transitions (see `slo/sinks.py`)."""

    type: Literal["webhook"]
    url: str = Field(description="Where the JSON document is POSTed")
    timeout_s: float = Field(default=5.0, gt=0, description="Upper bound on one POST")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra headers, e.g. authorization")


class AlertmanagerSinkDoc(Document):
    """Prometheus Alertmanager's v2 API: firing alerts re-sent every `resend_interval_s`."""

    type: Literal["alertmanager"]
    url: str = Field(description="Alertmanager's base URL, e.g. http://127.0.0.1:9093")
    timeout_s: float = Field(default=5.0, gt=0, description="Upper bound on one POST")
    resend_interval_s: float = Field(
        default=60.0, gt=0, description="Firing alerts are re-sent this often; endsAt is 4 intervals ahead"
    )
    generator_url: str | None = Field(default=None, description="generatorURL of every alert (a link back)")


SinkDoc = Annotated[LogSinkDoc | WebhookSinkDoc | AlertmanagerSinkDoc, Field(discriminator="type")]


def default_sinks() -> list[SinkDoc]:
    return [LogSinkDoc(type="log")]


# --- the gateway's and the route's documents --------------------------------------


class SloSettingsDoc(Document):
    """Gateway-wide SLO engine settings.

    Counts are kept in two rings per route: fine buckets (`bucket_s`, default 10 s) up
    to `fine_horizon_s` (6 h: the short burn windows), coarse ones (`coarse_bucket_s`,
    5 min) up to the SLO period and the longest window (30 d: 8640 buckets). Latency
    and TTFT histograms are kept in fine buckets only, up to `quantile_horizon_s`.
    """

    enabled: bool = Field(default=True, description="Run the SLO engine and its alerts")
    bucket_s: float = Field(default=10.0, gt=0, description="Width of a fine bucket")
    fine_horizon_s: float = Field(
        default=6 * HOUR, gt=0, description="Windows up to this long are read in fine buckets"
    )
    coarse_bucket_s: float = Field(default=300.0, gt=0, description="Width of a coarse bucket (long windows)")
    quantile_horizon_s: float = Field(
        default=900.0, gt=0, description="Longest window with p50/p95/p99 (histograms are kept this long)"
    )
    period_s: float = Field(default=30 * DAY, gt=0, description="The SLO period of the error budget")
    rolling_window_s: float = Field(default=300.0, gt=0, description="Window of the rolling p50/p95/p99 and TTFT p95")
    evaluation_interval_s: float = Field(default=15.0, gt=0, description="How often the engine is evaluated")
    keep_firing_s: float = Field(
        default=0.0, ge=0, description="A firing alert resolves only after its condition is gone this long"
    )
    burn: BurnAlertsDoc = Field(default_factory=BurnAlertsDoc, description="Multi-window burn-rate alerts")
    ttft: TtftAlertDoc = Field(default_factory=TtftAlertDoc, description="TTFT p95 over target")
    cost_anomaly: CostAnomalyDoc = Field(default_factory=CostAnomalyDoc, description="Spend over its baseline")
    cache_regression: CacheRegressionDoc = Field(
        default_factory=CacheRegressionDoc, description="Cache hit rate fell against its baseline"
    )
    fallback_rate: RateAlertDoc = Field(
        default_factory=lambda: RateAlertDoc(threshold=0.1), description="Share of requests served by a fallback model"
    )
    retry_amplification: RateAlertDoc = Field(
        default_factory=lambda: RateAlertDoc(threshold=1.5), description="Upstream attempts per upstream request"
    )
    sinks: list[SinkDoc] = Field(default_factory=default_sinks, description="Where alert transitions are sent")
    runbook_base: str = Field(default="docs/runbooks.md", description="Runbook links are {runbook_base}#<alert name>")

    @model_validator(mode="after")
    def _coherent(self) -> SloSettingsDoc:
        if self.coarse_bucket_s < self.bucket_s:
            raise ValueError("slo: coarse_bucket_s must be at least bucket_s")
        if self.quantile_horizon_s > self.fine_horizon_s:
            raise ValueError("slo: quantile_horizon_s must not exceed fine_horizon_s")
        if self.rolling_window_s > self.quantile_horizon_s:
            raise ValueError("slo: rolling_window_s must not exceed quantile_horizon_s")
        return self


class RouteSloDoc(Document):
    """A route's objectives (fractions of good events) and alert overrides. The latency
    objective counts requests within `latency.p95_ms`, TTFT within `latency.ttft_ms`."""

    availability: float = Field(default=0.999, gt=0, lt=1, description="Share of requests answered without a 5xx")
    latency: float = Field(default=0.95, gt=0, lt=1, description="Share of requests within latency.p95_ms")
    ttft: float = Field(default=0.95, gt=0, lt=1, description="Share of streams with a first token within ttft_ms")
    burn_windows: list[BurnWindowDoc] | None = Field(
        default=None, description="Burn-rate window pairs for this route; default: gateway.slo.burn.windows"
    )
    fallback_rate: float | None = Field(default=None, gt=0, description="Fallback-rate threshold for this route")
    retry_amplification: float | None = Field(default=None, gt=0, description="Attempts-per-request threshold")
    cache_drop: float | None = Field(default=None, gt=0, lt=1, description="Cache-regression drop for this route")
    silence: list[AlertName] = Field(default_factory=list, description="Alerts never raised for this route")
