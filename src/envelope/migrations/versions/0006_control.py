"""The closed loop: ledger columns for the config version and experiment arm of each
request; the control plane's transitions (downgrades, recoveries, economy, canary
rollbacks); shadow results; sampled payloads for replay.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

LEDGER_COLUMNS = (
    ("config_version", sa.Integer()),
    ("experiment", sa.String(128)),
)


def upgrade() -> None:
    with op.batch_alter_table("ledger") as batch:
        for name, kind in LEDGER_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    op.create_table(
        "control_transitions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("scope", sa.String(256), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("from_level", sa.Integer(), nullable=False),
        sa.Column("to_level", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("p95_ms", sa.Float(), nullable=True),
        sa.Column("target_ms", sa.Float(), nullable=True),
        sa.Column("downgraded_s", sa.Float(), nullable=True),
    )
    op.create_index("ix_control_transitions_ts", "control_transitions", ["ts"])
    op.create_table(
        "shadow_results",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("route", sa.String(128), nullable=False),
        sa.Column("primary_model", sa.String(256), nullable=False),
        sa.Column("shadow_model", sa.String(256), nullable=False),
        sa.Column("status", sa.String(64), nullable=False),
        sa.Column("primary_ms", sa.Float(), nullable=False),
        sa.Column("shadow_ms", sa.Float(), nullable=False),
        sa.Column("primary_cost_usd", sa.Float(), nullable=False),
        sa.Column("shadow_cost_usd", sa.Float(), nullable=False),
        sa.Column("primary_output_tokens", sa.Integer(), nullable=False),
        sa.Column("shadow_output_tokens", sa.Integer(), nullable=False),
        sa.Column("primary_text", sa.Text(), nullable=False),
        sa.Column("shadow_text", sa.Text(), nullable=False),
    )
    op.create_index("ix_shadow_results_route_ts", "shadow_results", ["route", "ts"])
    op.create_table(
        "payload_samples",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("route", sa.String(128), nullable=False),
        sa.Column("feature", sa.String(128), nullable=True),
        sa.Column("config_version", sa.Integer(), nullable=True),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("tier", sa.String(4), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("ttft_ms", sa.Float(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("cache", sa.String(16), nullable=False),
    )
    op.create_index("ix_payload_samples_ts", "payload_samples", ["ts"])


def downgrade() -> None:
    op.drop_table("payload_samples")
    op.drop_table("shadow_results")
    op.drop_table("control_transitions")
    with op.batch_alter_table("ledger") as batch:
        for name, _ in reversed(LEDGER_COLUMNS):
            batch.drop_column(name)
