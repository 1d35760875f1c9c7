"""Ledger columns for retrieval (what was searched, its time, the context's tokens) and
guardrails (the checks that fired, their time, groundedness, re-asks).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

COLUMNS = (
    ("retrieval", sa.String(128)),
    ("retrieval_ms", sa.Float()),
    ("context_tokens", sa.Integer()),
    ("guard", sa.String(256)),
    ("guard_ms", sa.Float()),
    ("groundedness", sa.Float()),
    ("reasks", sa.Integer()),
)


def upgrade() -> None:
    with op.batch_alter_table("ledger") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledger") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
