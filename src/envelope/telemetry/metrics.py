"""Prometheus metrics per route, tenant and model, in a registry of the app's own.

Label children are cached per label tuple, so a request pays one dict lookup rather
than prometheus_client's locked `labels()` call on each metric.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from envelope.pipeline.context import RequestContext, SemanticLookup

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0, 60.0)
LABELS = ("route", "tenant", "model")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("envelope_requests", "Requests answered", [*LABELS, "status"], registry=r)
        self.latency = Histogram(
            "envelope_request_duration_seconds",
            "Request latency, end to end",
            LABELS,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "envelope_time_to_first_token_seconds",
            "Time to first token of streams",
            LABELS,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Counter("envelope_tokens", "Tokens processed", [*LABELS, "kind"], registry=r)
        self.cost = Counter("envelope_cost_usd", "Cost in USD", LABELS, registry=r)
        self.errors = Counter("envelope_errors", "Failed requests by error code", [*LABELS, "code"], registry=r)
        self.degradations = Counter("envelope_degradations", "Degradations applied", [*LABELS, "kind"], registry=r)
        self.rejections = Counter(
            "envelope_admission_rejections",
            "Requests refused by a limit (429)",
            ["route", "tenant", "limit"],
            registry=r,
        )
        self.upstream = Histogram(
            "envelope_upstream_duration_seconds",
            "Upstream time per deployment",
            ["deployment"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.cache = Counter(
            "envelope_cache_lookups",
            "Cache lookups by outcome (miss, exact, semantic, coalesced)",
            ["route", "outcome"],
            registry=r,
        )
        self.cache_guarded = Counter(
            "envelope_cache_guarded",
            "Semantic near hits refused by the guard (false hits prevented), by reason",
            ["route", "reason"],
            registry=r,
        )
        self.cache_verified = Counter(
            "envelope_cache_verifications",
            "Semantic hits sent upstream anyway and compared: agree, or disagree (a false hit)",
            ["route", "verdict"],
            registry=r,
        )
        self.cache_false_hits = Counter(
            "envelope_cache_false_hits",
            "Semantic hits found wrong by verification (their cached answer is dropped)",
            ["route"],
            registry=r,
        )
        self.rules = Counter("envelope_rule_matches", "Policy rules matched", ["route", "rule"], registry=r)
        self.classified = Counter(
            "envelope_classified", "Requests classified, by intent", ["route", "intent", "risk"], registry=r
        )
        self.classify = Histogram(
            "envelope_classify_duration_seconds",
            "Time to classify a request, embedding included",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=r,
        )
        self.retrievals = Counter(
            "envelope_retrievals",
            "Retrievals by outcome (used, empty, skipped:late|timeout|rule|unavailable|no_question)",
            ["route", "knowledge_base", "status"],
            registry=r,
        )
        self.retrieval = Histogram(
            "envelope_retrieval_duration_seconds",
            "Time to retrieve and compress context, embedding included",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
            registry=r,
        )
        self.guard_events = Counter(
            "envelope_guard_events",
            "Guardrail checks that fired, by check and action (e.g. pii_input/redact, toxicity/refuse)",
            ["route", "check", "action"],
            registry=r,
        )
        self.guard = Histogram(
            "envelope_guard_duration_seconds",
            "Time spent in guardrail checks per request (re-asked upstream calls excluded)",
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05),
            registry=r,
        )
        self.control_level = Gauge(
            "envelope_control_level",
            "Adaptive control: tiers a route is lowered by now (0: nominal)",
            ["route"],
            registry=r,
        )
        self.transitions = Counter(
            "envelope_control_transitions",
            "Adaptive control transitions (scope route:NAME or tenant:NAME; kind latency|spend; down|up)",
            ["scope", "kind", "direction"],
            registry=r,
        )
        self.downgraded_seconds = Counter(
            "envelope_downgraded_seconds",
            "Time a route has spent downgraded by adaptive control",
            ["route"],
            registry=r,
        )
        self.downgrade_duration = Histogram(
            "envelope_downgrade_duration_seconds",
            "How long each downgrade lasted, observed at recovery",
            ["route"],
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400),
            registry=r,
        )
        self.economy = Gauge(
            "envelope_economy", "1 while a tenant is in economy (spend near its budget)", ["tenant"], registry=r
        )
        self.experiment_requests = Counter(
            "envelope_experiment_requests", "Requests per experiment arm", ["route", "experiment", "arm"], registry=r
        )
        self.experiment_weight = Gauge(
            "envelope_experiment_weight",
            "Share of a route's units each arm receives now (a rolled-back candidate: 0)",
            ["route", "experiment", "arm"],
            registry=r,
        )
        self.experiment_rollbacks = Counter(
            "envelope_experiment_rollbacks", "Canaries rolled back automatically", ["route", "experiment"], registry=r
        )
        self.shadows = Counter(
            "envelope_shadow_requests",
            "Shadow calls by outcome (ok, error, dropped: too many in flight)",
            ["route", "model", "outcome"],
            registry=r,
        )
        self.slo_events = Counter(
            "envelope_slo_events",
            "Requests judged against a route's objectives (availability, latency, ttft): good or bad",
            ["route", "objective", "outcome"],
            registry=r,
        )
        self.slo_objective = Gauge(
            "envelope_slo_objective",
            "A route's objective: the share of good events",
            ["route", "objective"],
            registry=r,
        )
        self.upstream_attempts = Counter(
            "envelope_upstream_attempts",
            "Upstream attempts (retries, hedges, fallbacks included)",
            ["route"],
            registry=r,
        )
        self.alerts_firing = Gauge(
            "envelope_alerts_firing",
            "Alerts the built-in SLO engine has firing now",
            ["alertname", "severity"],
            registry=r,
        )
        self.batch_items = Counter(
            "envelope_batch_items",
            "Batch items settled by this replica's worker: done or failed",
            ["status"],
            registry=r,
        )
        self._children: dict[tuple[str, ...], tuple[Any, ...]] = {}
        self._outcomes: dict[tuple[str, ...], Any] = {}
        self._rule_children: dict[tuple[str, str], Any] = {}

    def observe(self, ctx: RequestContext) -> None:
        labels = (ctx.route_name, ctx.tenant, ctx.model_name)
        children = self._children.get(labels)
        if children is None:
            children = (
                self.latency.labels(*labels),
                self.ttft.labels(*labels),
                self.tokens.labels(*labels, "input"),
                self.tokens.labels(*labels, "output"),
                self.cost.labels(*labels),
            )
            self._children[labels] = children
        latency, ttft, tokens_in, tokens_out, cost = children
        outcome = (*labels, str(ctx.status))
        counter = self._outcomes.get(outcome)
        if counter is None:
            counter = self._outcomes[outcome] = self.requests.labels(*outcome)
        counter.inc()
        latency.observe(ctx.latency_ms / 1000.0)
        if ctx.stream and ctx.ttft_ms is not None:
            ttft.observe(ctx.ttft_ms / 1000.0)
        tokens_in.inc(ctx.input_tokens)
        tokens_out.inc(ctx.output_tokens)
        cost.inc(ctx.cost_usd)
        if ctx.error is not None:
            self.errors.labels(*labels, ctx.error.code or ctx.error.type).inc()
            if ctx.error.status == 429:
                self.rejections.labels(ctx.route_name, ctx.tenant, ctx.error.param or "-").inc()
        for kind in ctx.degradations:
            self.degradations.labels(*labels, kind.split(":", 1)[0]).inc()
        if ctx.cache != "off":
            self.cache.labels(ctx.route_name, ctx.cache).inc()
            if ctx.semantic is not None:
                self._observe_semantic(ctx.route_name, ctx.semantic)
        if ctx.routing is not None:
            for rule in ctx.routing.rules:
                key = (ctx.route_name, rule)
                child = self._rule_children.get(key)
                if child is None:
                    child = self._rule_children[key] = self.rules.labels(*key)
                child.inc()
        verdict = ctx.classification
        if verdict is not None:
            self.classify.observe(verdict.ms / 1000.0)
            self.classified.labels(ctx.route_name, verdict.intent, "high" if verdict.risk >= 0.5 else "low").inc()
        if ctx.retrieved is not None:
            found = ctx.retrieved
            self.retrievals.labels(ctx.route_name, found.knowledge_base, found.status).inc()
            if found.status in ("used", "empty"):
                self.retrieval.observe(found.ms / 1000.0)
        if ctx.guarded is not None:
            self.guard.observe(ctx.guarded.ms / 1000.0)
            for event in ctx.guarded.events:
                self.guard_events.labels(ctx.route_name, *event.split(":", 1)).inc()
        if ctx.deployment is not None and ctx.upstream_started is not None and ctx.finished_at is not None:
            self.upstream.labels(ctx.deployment.doc.name).observe(ctx.finished_at - ctx.upstream_started)

    def _observe_semantic(self, route: str, lookup: SemanticLookup) -> None:
        if lookup.guard is not None:
            self.cache_guarded.labels(route, lookup.guard).inc()
        if lookup.verdict is not None:
            self.cache_verified.labels(route, lookup.verdict).inc()
            if lookup.verdict == "disagree":
                self.cache_false_hits.labels(route).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
