"""Ledger columns for the semantic cache: similarity of a hit, the guard's refusal,
verification's verdict.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

COLUMNS = (
    ("cache_similarity", sa.Float()),
    ("cache_guard", sa.String(16)),
    ("cache_verdict", sa.String(16)),
)


def upgrade() -> None:
    with op.batch_alter_table("ledger") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledger") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
