"""Table definitions (SQLAlchemy Core), shared by every SQL backend."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Index, Integer, MetaData, String, Table

metadata = MetaData()

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("tenant", String(128), nullable=False, index=True),
    Column("role", String(16), nullable=False),
    Column("route", String(128)),
    Column("feature", String(128)),
    Column("name", String(256)),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float),
)

ledger = Table(
    "ledger",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("ts", Float, nullable=False),
    Column("tenant", String(128), nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("route", String(128), nullable=False),
    Column("feature", String(128)),
    Column("operation", String(32), nullable=False),
    Column("model", String(256), nullable=False),
    Column("deployment", String(128)),
    Column("tier", String(4)),
    Column("mode", String(16)),
    Column("stream", Boolean, nullable=False),
    Column("status", Integer, nullable=False),
    Column("error_code", String(64)),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("cached_tokens", Integer, nullable=False),
    Column("tokens_exact", Boolean, nullable=False),
    Column("cost_usd", Float, nullable=False),
    Column("worst_case_usd", Float, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("ttft_ms", Float),
    Column("upstream_ms", Float),
    Column("cache", String(16), nullable=False),
    Column("degradations", String(512), nullable=False),
    Column("rules", String(256)),
    Column("intent", String(32)),
    Column("complexity", String(16)),
    Column("risk", Float),
    Column("classify_ms", Float),
    Column("cache_similarity", Float),
    Column("cache_guard", String(16)),
    Column("cache_verdict", String(16)),
    Column("retrieval", String(128)),
    Column("retrieval_ms", Float),
    Column("context_tokens", Integer),
    Column("guard", String(256)),
    Column("guard_ms", Float),
    Column("groundedness", Float),
    Column("reasks", Integer),
    Index("ix_ledger_ts", "ts"),
    Index("ix_ledger_tenant_ts", "tenant", "ts"),
)
