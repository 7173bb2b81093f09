"""A decision keeps the signals it was decided on (the request merged with the stored
profile), so the store's own decisions can train the next model and show drift.

Nullable: decisions made before this revision have none, and retention and erasure clear
them while the figures stay.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(
            sa.Column("signals", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=True)
        )


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35 and later): a batch rebuild would drop the table that
    # visits and outcomes point to, which SQLite's foreign keys refuse.
    op.execute("ALTER TABLE decisions DROP COLUMN signals")
