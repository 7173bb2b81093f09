"""Privacy: the marks up to which retention has pruned decision and visit signals.

Erasure needs no new column: it nulls the customer id and the personal parts of rows that
exist already, and records itself in the append-only audit table.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retention_marks",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("through", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("retention_marks")
