"""The tables the store queries (SQLAlchemy Core). Alembic migrations create them.

The migrations spell the schema out on their own rather than importing this module, so
history never changes when the code does; a test checks that the migrated database and
these tables agree.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from tierline.engine.store.database import UTCDateTime

__all__ = [
    "api_keys",
    "audit",
    "customers",
    "decisions",
    "metadata",
    "outcomes",
    "pairing_codes",
    "perk_usage",
    "perks",
    "retention_marks",
    "visits",
]

metadata = sa.MetaData()

JSON = sa.JSON().with_variant(JSONB(), "postgresql")

# Migration 0008: a profile belongs to one site, or to the whole chain (site '').
customers = sa.Table(
    "customers",
    metadata,
    sa.Column("site", sa.Text, primary_key=True),
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("signals", JSON, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Only the primary key is indexed: nothing reads decisions by customer or by time, and
# every decision would pay for such an index on its way in (migration 0003).
decisions = sa.Table(
    "decisions",
    metadata,
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
    sa.Column("created_at", UTCDateTime, nullable=False),
    # Migration 0009: the merged signals the decision was made on (None once pruned).
    sa.Column("signals", JSON, nullable=True),
)

visits = sa.Table(
    "visits",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("site", sa.Text, nullable=False),
    sa.Column("ticket", sa.Integer, nullable=False),
    sa.Column("decision_id", sa.String(32), sa.ForeignKey("decisions.id"), nullable=False),
    sa.Column("customer_id", sa.Text, nullable=True),
    sa.Column("party_size", sa.Integer, nullable=True),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("closed_at", UTCDateTime, nullable=True),
    sa.Column("spend", sa.Double, nullable=True),
    # Migration 0002: what the staff display shows and the keys that make its actions
    # safe to repeat.
    sa.Column("source", JSON, nullable=True),  # campaign, landing page, channel
    sa.Column("close_key", sa.Text, nullable=True),
    sa.Column("override_tier", sa.Text, nullable=True),
    sa.Column("override_reason", sa.Text, nullable=True),
    sa.Column("override_key", sa.Text, nullable=True),
    sa.Column("overridden_at", UTCDateTime, nullable=True),
    sa.Column("overridden_by", sa.Text, nullable=True),
    # Migration 0004: the cues picked again for the override's tier.
    sa.Column("override_cues", JSON, nullable=True),
    sa.CheckConstraint("spend IS NULL OR spend >= 0", name="ck_visits_spend"),
    sa.CheckConstraint("party_size IS NULL OR party_size > 0", name="ck_visits_party_size"),
    sa.Index("ix_visits_site_ticket", "site", "ticket"),
    sa.Index("ix_visits_site_opened", "site", "opened_at"),
    # A ticket is unique among the open visits of a site; a closed ticket is reused.
    sa.Index(
        "uq_visits_open_ticket",
        "site",
        "ticket",
        unique=True,
        sqlite_where=sa.text("closed_at IS NULL"),
        postgresql_where=sa.text("closed_at IS NULL"),
    ),
    # Migration 0004: an idempotency key names one request of its site (README, Retries).
    sa.Index("uq_visits_site_close_key", "site", "close_key", unique=True),
    sa.Index("uq_visits_site_override_key", "site", "override_key", unique=True),
)

outcomes = sa.Table(
    "outcomes",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("idempotency_key", sa.Text, nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("decision_id", sa.String(32), sa.ForeignKey("decisions.id"), nullable=False),
    sa.Column("spend", sa.Double, nullable=True),
    sa.Column("accepted", JSON, nullable=False),
    sa.Column("declined", JSON, nullable=False),
    sa.Column("converted", sa.Boolean, nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # Migration 0004: the decision's site, so that each site has its own idempotency keys.
    sa.Column("site", sa.Text, nullable=False),
    sa.CheckConstraint("spend IS NULL OR spend >= 0", name="ck_outcomes_spend"),
    sa.Index("uq_outcomes_site_key", "site", "idempotency_key", unique=True),
)

perks = sa.Table(
    "perks",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("cost", sa.Double, nullable=False),
    sa.Column("stock", sa.Integer, nullable=True),  # NULL: unlimited
    sa.Column("daily_budget", sa.Double, nullable=True),  # NULL: no budget
    # Migration 0007: what the playbook last declared (engine.store.perks, sync_perks);
    # declared_at NULL: nothing declared yet.
    sa.Column("declared_stock", sa.Integer, nullable=True),
    sa.Column("declared_budget", sa.Double, nullable=True),
    sa.Column("declared_at", UTCDateTime, nullable=True),
    # The last line of defence for "never issue more than the stock".
    sa.CheckConstraint("stock IS NULL OR stock >= 0", name="ck_perks_stock"),
)

perk_usage = sa.Table(
    "perk_usage",
    metadata,
    sa.Column("perk", sa.Text, sa.ForeignKey("perks.name"), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("issued", sa.Integer, nullable=False),
    sa.Column("spent", sa.Double, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("key_hash", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("site", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
    sa.CheckConstraint("role IN ('staff', 'pos', 'admin')", name="ck_api_keys_role"),
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("detail", JSON, nullable=False),
)

# Migration 0010: a pairing code, kept as its SHA-256 only, spent on its first redemption.
pairing_codes = sa.Table(
    "pairing_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("site", sa.Text, nullable=False),
    sa.Column("issued_by", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("used_at", UTCDateTime, nullable=True),
    sa.Column("key_id", sa.String(32), nullable=True),
)

# How far retention has pruned each table (migration 0005): the next pass starts there, so
# a pass touches only rows that aged past the limit since the last one.
retention_marks = sa.Table(
    "retention_marks",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("through", sa.Text, nullable=False),
)

# Migration 0011: each API key's rate-limit bucket, shared by every process on the database.
rate_buckets = sa.Table(
    "rate_buckets",
    metadata,
    sa.Column("bucket", sa.Text, primary_key=True),
    sa.Column("tokens", sa.Double, nullable=False),
    sa.Column("counted_at", sa.Double, nullable=False),  # seconds since the epoch
)
