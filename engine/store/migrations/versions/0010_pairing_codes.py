"""Pairing codes: an admin issues a short code that signs one tablet in as staff.

Only the code's SHA-256 is kept; a code is spent (``used_at``, and the key it made) on its
first redemption and refused after ``expires_at``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "pairing_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("site", sa.Text, nullable=False),
        sa.Column("issued_by", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("used_at", TIME, nullable=True),
        sa.Column("key_id", sa.String(32), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("pairing_codes")
