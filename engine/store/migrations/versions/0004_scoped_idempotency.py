"""Idempotency keys belong to a site: two sites may send the same key without colliding.

Outcomes gain the site of their decision (filled in from it), and the global uniqueness of
their key becomes uniqueness per site. A visit's close and override keys become unique per
site too, so that a key names one request there and a late retry finds it by key.

Downgrading is refused while two sites share an outcome key: revision 0003 can hold only
one of them, and dropping either would lose a stored outcome.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tierline.engine.errors import StoreError

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# 0001 left the key's unique constraint unnamed: SQLite then reflects it with no name, and
# this convention gives it one that batch mode can drop.
_CONVENTION = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
# PostgreSQL's own name for it, which the downgrade gives back on both databases.
_GLOBAL_KEY = "outcomes_idempotency_key_key"
_VISIT_KEYS = {
    "uq_visits_site_close_key": "close_key",
    "uq_visits_site_override_key": "override_key",
}

_FILL_SITE = (
    "UPDATE outcomes SET site = "
    "(SELECT decisions.site FROM decisions WHERE decisions.id = outcomes.decision_id)"
)
# Before this revision a key could be sent again for another ticket; the newest use keeps it.
_FORGET_OLDER = (
    "UPDATE visits SET {column} = NULL WHERE {column} IS NOT NULL AND EXISTS "
    "(SELECT 1 FROM visits AS newer WHERE newer.site = visits.site "
    "AND newer.{column} = visits.{column} AND newer.id > visits.id)"
)
_SHARED_KEYS = (
    "SELECT idempotency_key FROM outcomes GROUP BY idempotency_key HAVING COUNT(*) > 1 LIMIT 5"
)


def _global_key_constraint() -> str:
    for unique in sa.inspect(op.get_bind()).get_unique_constraints("outcomes"):
        if unique["column_names"] == ["idempotency_key"] and unique["name"]:
            return str(unique["name"])
    return "uq_outcomes_idempotency_key"  # unnamed, as 0001 created it on SQLite


def upgrade() -> None:
    op.add_column("outcomes", sa.Column("site", sa.Text, nullable=True))
    op.execute(_FILL_SITE)
    name = _global_key_constraint()
    with op.batch_alter_table("outcomes", naming_convention=_CONVENTION) as batch:
        batch.alter_column("site", existing_type=sa.Text, nullable=False)
        batch.drop_constraint(name, type_="unique")
    op.create_index("uq_outcomes_site_key", "outcomes", ["site", "idempotency_key"], unique=True)
    for index, column in _VISIT_KEYS.items():
        op.execute(_FORGET_OLDER.format(column=column))
        op.create_index(index, "visits", ["site", column], unique=True)


def downgrade() -> None:
    shared = [row[0] for row in op.get_bind().execute(sa.text(_SHARED_KEYS))]
    if shared:
        raise StoreError(
            f"Cannot downgrade below {revision}: sites share the outcome idempotency keys "
            f"{', '.join(shared)}, and revision 0003 holds each key once; keep this revision"
        )
    for index in _VISIT_KEYS:
        op.drop_index(index, table_name="visits")
    op.drop_index("uq_outcomes_site_key", table_name="outcomes")
    with op.batch_alter_table("outcomes") as batch:
        batch.drop_column("site")
        batch.create_unique_constraint(_GLOBAL_KEY, ["idempotency_key"])
