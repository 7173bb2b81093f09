"""The first schema: customers, decisions, visits, outcomes, perks, API keys, audit.

Revision ID: 0001
Revises:
Create Date: 2025-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
TIME = sa.DateTime(timezone=True)

_SQLITE_APPEND_ONLY = """
CREATE TRIGGER audit_no_{event} BEFORE {event} ON audit
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END
"""

_PG_APPEND_ONLY = [
    """
    CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'audit is append-only'; END $$
    """,
    """
    CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only()
    """,
    """
    CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()
    """,
]


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("signals", JSON, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("customer_id", sa.Text, nullable=True),
        sa.Column("site", sa.Text, nullable=False),
        sa.Column("tier", sa.Text, nullable=False),
        sa.Column("confidence", sa.Double, nullable=False),
        sa.Column("score", sa.Double, nullable=False),
        sa.Column("cues", JSON, nullable=False),
        sa.Column("reasons", JSON, nullable=False),
        sa.Column("model_version", sa.Text, nullable=True),
        sa.Column("holdout", sa.Boolean, nullable=False),
        sa.Column("degraded", sa.Boolean, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_index("ix_decisions_customer_id", "decisions", ["customer_id"])
    op.create_index("ix_decisions_created_at", "decisions", ["created_at"])
    op.create_table(
        "visits",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("site", sa.Text, nullable=False),
        sa.Column("ticket", sa.Integer, nullable=False),
        sa.Column("decision_id", sa.String(32), sa.ForeignKey("decisions.id"), nullable=False),
        sa.Column("customer_id", sa.Text, nullable=True),
        sa.Column("party_size", sa.Integer, nullable=True),
        sa.Column("opened_at", TIME, nullable=False),
        sa.Column("closed_at", TIME, nullable=True),
        sa.Column("spend", sa.Double, nullable=True),
        sa.CheckConstraint("spend IS NULL OR spend >= 0", name="ck_visits_spend"),
        sa.CheckConstraint("party_size IS NULL OR party_size > 0", name="ck_visits_party_size"),
    )
    op.create_index("ix_visits_site_ticket", "visits", ["site", "ticket"])
    op.create_index(
        "uq_visits_open_ticket",
        "visits",
        ["site", "ticket"],
        unique=True,
        sqlite_where=sa.text("closed_at IS NULL"),
        postgresql_where=sa.text("closed_at IS NULL"),
    )
    op.create_table(
        "outcomes",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("idempotency_key", sa.Text, nullable=False, unique=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("decision_id", sa.String(32), sa.ForeignKey("decisions.id"), nullable=False),
        sa.Column("spend", sa.Double, nullable=True),
        sa.Column("accepted", JSON, nullable=False),
        sa.Column("declined", JSON, nullable=False),
        sa.Column("converted", sa.Boolean, nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.CheckConstraint("spend IS NULL OR spend >= 0", name="ck_outcomes_spend"),
    )
    op.create_table(
        "perks",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("cost", sa.Double, nullable=False),
        sa.Column("stock", sa.Integer, nullable=True),
        sa.Column("daily_budget", sa.Double, nullable=True),
        sa.CheckConstraint("stock IS NULL OR stock >= 0", name="ck_perks_stock"),
    )
    op.create_table(
        "perk_usage",
        sa.Column("perk", sa.Text, sa.ForeignKey("perks.name"), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("issued", sa.Integer, nullable=False),
        sa.Column("spent", sa.Double, nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("site", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("revoked_at", TIME, nullable=True),
        sa.CheckConstraint("role IN ('staff', 'pos', 'admin')", name="ck_api_keys_role"),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", TIME, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("detail", JSON, nullable=False),
    )
    # Append-only is enforced by the database, not only by the store offering no update.
    if op.get_bind().dialect.name == "postgresql":
        for statement in _PG_APPEND_ONLY:
            op.execute(statement)
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(_SQLITE_APPEND_ONLY.format(event=event))


def downgrade() -> None:
    for table in (
        "audit",
        "api_keys",
        "perk_usage",
        "perks",
        "outcomes",
        "visits",
        "decisions",
        "customers",
    ):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_append_only()")
