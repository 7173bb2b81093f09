"""Profiles per site: ``customers`` gains a ``site`` column and its key becomes (site, id).

``site`` is ``''`` for a chain-wide profile (``TIERLINE_PROFILES=chain``, the default) and
the site's name when each site keeps its own (``site``). Existing profiles become
chain-wide, so a chain-mode server reads them exactly as before.

Going back is refused while a site holds a profile of its own: revision 0007 keeps one
profile per id, and choosing which site's to keep would lose the others.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from tierline.engine.errors import StoreError

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_SITE_PROFILES = "SELECT COUNT(*) FROM customers WHERE site <> ''"


def _rekey(*columns: str, site: sa.Column[str] | None) -> None:
    """Give ``customers`` the primary key ``columns``, adding ``site`` first if given or
    dropping it if not. PostgreSQL alters the table; SQLite rebuilds it from ``_UNKEYED``
    (reflected, its id would claim the old key beside the new one)."""
    bind = op.get_bind()
    name = sa.inspect(bind).get_pk_constraint("customers").get("name")
    copy_from = _unkeyed(with_site=site is None) if bind.dialect.name == "sqlite" else None
    with op.batch_alter_table("customers", copy_from=copy_from) as batch:
        if site is not None:
            batch.add_column(site)
        if name and copy_from is None:
            batch.drop_constraint(name, type_="primary")
        if site is None:
            batch.drop_column("site")
        batch.create_primary_key("customers_pkey", list(columns))


def _unkeyed(*, with_site: bool) -> sa.Table:
    """The customers table as stored, without its primary key."""
    json = sa.JSON().with_variant(JSONB(), "postgresql")
    site = [sa.Column("site", sa.Text, nullable=False)] if with_site else []
    return sa.Table(
        "customers",
        sa.MetaData(),
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("signals", json, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        *site,
    )


def upgrade() -> None:
    _rekey("site", "id", site=sa.Column("site", sa.Text, nullable=False, server_default=""))
    with op.batch_alter_table("customers") as batch:
        batch.alter_column("site", existing_type=sa.Text, server_default=None)


def downgrade() -> None:
    count = op.get_bind().scalar(sa.text(_SITE_PROFILES))
    if count:
        raise StoreError(
            f"Cannot downgrade below {revision}: {count} profiles belong to one site, and "
            "revision 0007 keeps one profile per customer for the chain; erase or move them "
            "first, or keep this revision"
        )
    _rekey("id", site=None)
