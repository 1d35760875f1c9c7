"""Account: once a request is over, one ledger row, its metrics and its trace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from envelope.ledger.record import LedgerRecord
from envelope.ledger.writer import LedgerWriter
from envelope.pipeline.context import RequestContext, Retrieved
from envelope.telemetry.metrics import Metrics
from envelope.telemetry.tracing import Tracing


class Observer(Protocol):
    """Told of every request once it is over (the SLO engine, adaptive control)."""

    def observe(self, ctx: RequestContext) -> None: ...


class Account:
    def __init__(
        self, ledger: LedgerWriter, metrics: Metrics, tracing: Tracing, observers: Sequence[Observer] = ()
    ) -> None:
        self._ledger = ledger
        self._metrics = metrics
        self._tracing = tracing
        self._observers = tuple(observers)

    async def finish(self, ctx: RequestContext) -> None:
        if ctx.key is not None:  # unauthenticated noise is counted in metrics, not billed
            self._ledger.record(ledger_record(ctx))
        self._metrics.observe(ctx)
        for observer in self._observers:
            observer.observe(ctx)
        self._tracing.end(ctx)


def ledger_record(ctx: RequestContext) -> LedgerRecord:
    assert ctx.key is not None
    verdict = ctx.classification
    lookup = ctx.semantic
    guarded, retrieved = ctx.guarded, ctx.retrieved
    upstream_ms = None
    if ctx.upstream_started is not None and ctx.finished_at is not None:
        upstream_ms = (ctx.finished_at - ctx.upstream_started) * 1000.0
    return LedgerRecord(
        request_id=ctx.request_id,
        ts=ctx.started_wall,
        tenant=ctx.tenant,
        key_id=ctx.key.id,
        route=ctx.route_name,
        feature=ctx.feature,
        operation=ctx.operation,
        model=ctx.model_name,
        deployment=ctx.deployment.doc.name if ctx.deployment else None,
        tier=ctx.model.doc.tier if ctx.model else None,
        mode=ctx.envelope.mode if ctx.envelope else None,
        stream=ctx.stream,
        status=ctx.status,
        error_code=(ctx.error.code or ctx.error.type) if ctx.error else None,
        input_tokens=ctx.input_tokens + (guarded.earlier_input_tokens if guarded else 0),
        output_tokens=ctx.output_tokens + (guarded.earlier_output_tokens if guarded else 0),
        cached_tokens=ctx.cached_tokens,
        tokens_exact=ctx.tokens_exact and ctx.output_exact,
        cost_usd=ctx.cost_usd,
        worst_case_usd=ctx.worst_case_usd,
        latency_ms=ctx.latency_ms,
        ttft_ms=ctx.ttft_ms,
        upstream_ms=upstream_ms,
        cache=ctx.cache,
        degradations=_clip(",".join(ctx.degradations), 512),
        rules=_clip(",".join(ctx.routing.rules), 256) if ctx.routing and ctx.routing.rules else None,
        intent=verdict.intent if verdict else None,
        complexity=verdict.complexity if verdict else None,
        risk=verdict.risk if verdict else None,
        classify_ms=verdict.ms if verdict else None,
        cache_similarity=lookup.similarity if lookup else None,
        cache_guard=lookup.guard if lookup else None,
        cache_verdict=lookup.verdict if lookup else None,
        retrieval=_clip(retrieval_label(retrieved), 128) if retrieved else None,
        retrieval_ms=retrieved.ms if retrieved else None,
        context_tokens=retrieved.tokens if retrieved else None,
        guard=_clip(",".join(guarded.events), 256) if guarded and guarded.events else None,
        guard_ms=guarded.ms if guarded else None,
        groundedness=guarded.groundedness if guarded else None,
        reasks=guarded.reasks if guarded and guarded.reasks else None,
        config_version=ctx.config_version,
        experiment=ctx.experiment,
    )


def retrieval_label(retrieved: Retrieved) -> str:
    """`NAME@VERSION:INDEX:STATUS` (what was searched and what came of it)."""
    where = retrieved.knowledge_base + (f"@{retrieved.version}" if retrieved.version is not None else "")
    return ":".join(p for p in (where, retrieved.index, retrieved.status) if p)


def _clip(text: str, limit: int) -> str:
    """Fit a column: a long list keeps its head and says it was cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."
