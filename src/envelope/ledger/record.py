"""One ledger row: everything worth knowing about one request after it ended."""

from __future__ import annotations

import msgspec

# The `cache` values of a request answered from the cache (the others: miss, off, bypass).
CACHE_HITS: tuple[str, ...] = ("exact", "semantic", "coalesced")


class LedgerRecord(msgspec.Struct, kw_only=True):
    request_id: str
    ts: float
    tenant: str
    key_id: str
    route: str
    feature: str | None
    operation: str
    model: str
    deployment: str | None
    tier: str | None
    mode: str | None
    stream: bool
    status: int
    error_code: str | None
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    tokens_exact: bool
    cost_usd: float
    worst_case_usd: float
    latency_ms: float
    ttft_ms: float | None
    upstream_ms: float | None
    cache: str
    degradations: str
    rules: str | None = None
    intent: str | None = None
    complexity: str | None = None
    risk: float | None = None
    classify_ms: float | None = None
    cache_similarity: float | None = None  # semantic hit (or verified near hit): the questions' cosine
    cache_guard: str | None = None  # a near hit the guard refused: negation | polarity | number | entity
    cache_verdict: str | None = None  # a verified near hit: agree | disagree (a false hit caught)
    retrieval: str | None = None  # knowledge base and what retrieval did: `docs@3:fast:used`, `docs:skipped:late`
    retrieval_ms: float | None = None
    context_tokens: int | None = None
    guard: str | None = None  # guardrail checks that fired, `check:action` (pii_input:redact, toxicity:refuse)
    guard_ms: float | None = None
    groundedness: float | None = None
    reasks: int | None = None
    config_version: int | None = None  # the registry version that served the request
    experiment: str | None = None  # NAME:ARM of the experiment it took part in
