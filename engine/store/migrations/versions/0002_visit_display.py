"""Visits remember what the staff display needs: where the customer came from, a staff
override of the tier, and the idempotency keys of the close and the override.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
TIME = sa.DateTime(timezone=True)

# All nullable, so SQLite adds them in place and old rows stay valid.
_COLUMNS: list[sa.Column[Any]] = [
    sa.Column("source", JSON, nullable=True),
    sa.Column("close_key", sa.Text, nullable=True),
    sa.Column("override_tier", sa.Text, nullable=True),
    sa.Column("override_reason", sa.Text, nullable=True),
    sa.Column("override_key", sa.Text, nullable=True),
    sa.Column("overridden_at", TIME, nullable=True),
    sa.Column("overridden_by", sa.Text, nullable=True),
]


def upgrade() -> None:
    for column in _COLUMNS:
        op.add_column("visits", column)
    op.create_index("ix_visits_site_opened", "visits", ["site", "opened_at"])


def downgrade() -> None:
    op.drop_index("ix_visits_site_opened", table_name="visits")
    with op.batch_alter_table("visits") as batch:
        for column in reversed(_COLUMNS):
            batch.drop_column(column.name)
