"""Initial schema: api_keys and ledger.

Revision ID: 0001
Revises:
Create Date: 2026-11-24

Frozen: this is the schema as first shipped (identical to what `metadata.create_all`
made before migrations existed, which is why such databases are stamped with 0001).
Later changes go in new revisions, never here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("route", sa.String(128)),
        sa.Column("feature", sa.String(128)),
        sa.Column("name", sa.String(256)),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("revoked_at", sa.Float),
        sa.UniqueConstraint("digest"),
    )
    op.create_index("ix_api_keys_tenant", "api_keys", ["tenant"])
    op.create_table(
        "ledger",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("route", sa.String(128), nullable=False),
        sa.Column("feature", sa.String(128)),
        sa.Column("operation", sa.String(32), nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("deployment", sa.String(128)),
        sa.Column("tier", sa.String(4)),
        sa.Column("mode", sa.String(16)),
        sa.Column("stream", sa.Boolean, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("error_code", sa.String(64)),
        sa.Column("input_tokens", sa.Integer, nullable=False),
        sa.Column("output_tokens", sa.Integer, nullable=False),
        sa.Column("cached_tokens", sa.Integer, nullable=False),
        sa.Column("tokens_exact", sa.Boolean, nullable=False),
        sa.Column("cost_usd", sa.Float, nullable=False),
        sa.Column("worst_case_usd", sa.Float, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("ttft_ms", sa.Float),
        sa.Column("upstream_ms", sa.Float),
        sa.Column("cache", sa.String(16), nullable=False),
        sa.Column("degradations", sa.String(512), nullable=False),
    )
    op.create_index("ix_ledger_ts", "ledger", ["ts"])
    op.create_index("ix_ledger_tenant_ts", "ledger", ["tenant", "ts"])


def downgrade() -> None:
    op.drop_table("ledger")
    op.drop_table("api_keys")
