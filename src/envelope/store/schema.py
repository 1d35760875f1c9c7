"""Table definitions (SQLAlchemy Core), shared by every SQL backend."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Index, Integer, LargeBinary, MetaData, String, Table, Text

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
    Column("config_version", Integer),
    Column("experiment", String(128)),
    Index("ix_ledger_ts", "ts"),
    Index("ix_ledger_tenant_ts", "tenant", "ts"),
)

# --- the policy registry (registry/): versions of the config documents, the active one, the audit log ---

config_versions = Table(
    "config_versions",
    metadata,
    Column("number", Integer, primary_key=True, autoincrement=False),  # max + 1, under the registry lock
    Column("digest", String(64), nullable=False, unique=True),
    Column("documents", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("actor", String(256), nullable=False),
    Column("message", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("bad_reason", Text),
)

# One row (id 1), made by the migration: the active version, and the row every registry
# write locks first (SELECT ... FOR UPDATE), so activations take turns.
config_active = Table(
    "config_active",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", Integer),
    Column("activated_at", Float),
)

config_audit = Table(
    "config_audit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ts", Float, nullable=False),
    Column("actor", String(256), nullable=False),
    Column("action", String(16), nullable=False),
    Column("from_version", Integer),
    Column("to_version", Integer, nullable=False),
    Column("summary", Text, nullable=False),
    Column("reason", Text),
)

# --- the closed loop (control/, ledger/samples.py) ---

control_transitions = Table(
    "control_transitions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ts", Float, nullable=False),
    Column("scope", String(256), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("from_level", Integer, nullable=False),
    Column("to_level", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("p95_ms", Float),
    Column("target_ms", Float),
    Column("downgraded_s", Float),
    Index("ix_control_transitions_ts", "ts"),
)

shadow_results = Table(
    "shadow_results",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("ts", Float, nullable=False),
    Column("tenant", String(128), nullable=False),
    Column("route", String(128), nullable=False),
    Column("primary_model", String(256), nullable=False),
    Column("shadow_model", String(256), nullable=False),
    Column("status", String(64), nullable=False),
    Column("primary_ms", Float, nullable=False),
    Column("shadow_ms", Float, nullable=False),
    Column("primary_cost_usd", Float, nullable=False),
    Column("shadow_cost_usd", Float, nullable=False),
    Column("primary_output_tokens", Integer, nullable=False),
    Column("shadow_output_tokens", Integer, nullable=False),
    Column("primary_text", Text, nullable=False),
    Column("shadow_text", Text, nullable=False),
    Index("ix_shadow_results_route_ts", "route", "ts"),
)

payload_samples = Table(
    "payload_samples",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("ts", Float, nullable=False),
    Column("tenant", String(128), nullable=False),
    Column("route", String(128), nullable=False),
    Column("feature", String(128)),
    Column("config_version", Integer),
    Column("request", Text, nullable=False),
    Column("answer", Text, nullable=False),
    Column("status", Integer, nullable=False),
    Column("model", String(256), nullable=False),
    Column("tier", String(4)),
    Column("latency_ms", Float, nullable=False),
    Column("ttft_ms", Float),
    Column("cost_usd", Float, nullable=False),
    Column("cache", String(16), nullable=False),
    Index("ix_payload_samples_ts", "ts"),
)

# --- the batch API (batch/): uploaded files, batches and their items ---

files = Table(
    "files",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant", String(128), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("filename", String(256), nullable=False),
    Column("bytes", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Index("ix_files_tenant_created", "tenant", "created_at"),
)

batches = Table(
    "batches",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant", String(128), nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("input_file_id", String(64), nullable=False),
    Column("endpoint", String(64), nullable=False),
    Column("completion_window", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("headers", Text, nullable=False),
    Column("metadata", Text),
    Column("total", Integer, nullable=False),
    Column("completed", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("in_progress_at", Float),
    Column("finalizing_at", Float),
    Column("completed_at", Float),
    Column("failed_at", Float),
    Column("expired_at", Float),
    Column("cancelling_at", Float),
    Column("cancelled_at", Float),
    Column("output_file_id", String(64)),
    Column("error_file_id", String(64)),
    Column("errors", Text),
    Column("lease_owner", String(64)),
    Column("lease_until", Float),
    Index("ix_batches_tenant_created", "tenant", "created_at"),
    Index("ix_batches_status", "status"),
)

batch_items = Table(
    "batch_items",
    metadata,
    Column("batch_id", String(64), primary_key=True),
    Column("index", Integer, primary_key=True, autoincrement=False),
    Column("custom_id", String(512), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("status_code", Integer),
    Column("response", Text),
    Column("request_id", String(64)),
    Column("finished_at", Float),
    Column("next_attempt_at", Float),
    Index("ix_batch_items_pending", "batch_id", "status"),
)
