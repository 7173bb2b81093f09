"""Decisions keep only their primary key's index: no query reads them by customer or by
time, and every decision paid for both indexes on its way in.

The customer index took the largest share: each insert lands on a random page of it
(benchmarks/README.md, "Figures behind design choices", has the measurement). Decision ids begin with the time (``new_decision_id``), so the
primary key already serves a time range.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_decisions_customer_id", table_name="decisions")
    op.drop_index("ix_decisions_created_at", table_name="decisions")


def downgrade() -> None:
    op.create_index("ix_decisions_customer_id", "decisions", ["customer_id"])
    op.create_index("ix_decisions_created_at", "decisions", ["created_at"])
