"""Ledger columns for routing: matched policy rules and the request's classification.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

COLUMNS = (
    ("rules", sa.String(256)),
    ("intent", sa.String(32)),
    ("complexity", sa.String(16)),
    ("risk", sa.Float()),
    ("classify_ms", sa.Float()),
)


def upgrade() -> None:
    with op.batch_alter_table("ledger") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledger") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
