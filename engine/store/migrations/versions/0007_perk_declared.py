"""A perk remembers the stock and daily budget its playbook last declared, so a sync sets
them only when the declaration changes and a restart does not refill a used stock.

Rows from before have no declaration on record (``declared_at`` NULL): the first sync
records one and keeps their stock and budget as they are.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("perks") as batch:
        batch.add_column(sa.Column("declared_stock", sa.Integer, nullable=True))
        batch.add_column(sa.Column("declared_budget", sa.Double, nullable=True))
        batch.add_column(sa.Column("declared_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("perks") as batch:
        batch.drop_column("declared_at")
        batch.drop_column("declared_budget")
        batch.drop_column("declared_stock")
