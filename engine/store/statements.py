"""The statements run on the driver's own connection (``engine.store.raw``), built with
SQLAlchemy Core from the tables of ``engine.store.schema`` and compiled once per database
when the store opens.

They run on every decision, so they skip SQLAlchemy's execution (see ``engine.store.raw``),
but their SQL is never written by hand: a column renamed in the schema renames it here, or
fails the build, and tests/engine/test_statements.py checks every column they name
against the migrated database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import psycopg
from sqlalchemy.engine.interfaces import BindTyping, Dialect

from tierline.engine.store import schema

__all__ = ["Statement", "Statements", "build_statements", "compiled_statements"]

_ZERO: sa.ColumnClause[int] = sa.literal_column("0", sa.Integer)
_ONE: sa.ColumnClause[int] = sa.literal_column("1", sa.Integer)


@dataclass(frozen=True)
class Statement:
    """One compiled statement: its SQL in the driver's parameter style and the names of
    its parameters in the order the SQL takes them (a name may come more than once)."""

    clause: sa.Executable  # what it was compiled from (for the schema tests)
    sql: str
    names: tuple[str, ...]
    _pick: Any = field(repr=False, compare=False)

    def params(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """The positional parameters for the named ``values``."""
        picked = self._pick(values)
        return picked if len(self.names) > 1 else (picked,)


@dataclass(frozen=True)
class Statements:
    """The raw statements of one database."""

    # On every decision with a known customer: the profile, by primary key.
    get_customer: Statement
    insert_decision: Statement
    # NULL stock is unlimited and stays NULL.
    take_stock: Statement
    perk_exists: Statement
    put_back: Statement
    # The day's usage; with a budget it grows only while the budget allows, and no row
    # back means the budget is spent.
    use_unlimited: Statement
    use_within_budget: Statement
    unuse: Statement
    # PostgreSQL only (SQLite's write lock already admits one writer): None on SQLite.
    lock_perks: Statement | None


def build_statements(
    dialect_name: str, tables: Mapping[str, sa.Table] = schema.metadata.tables
) -> Statements:
    """Build and compile the raw statements for ``dialect_name`` (``sqlite`` or
    ``postgresql``) from ``tables`` (the schema's; a test passes a changed copy)."""
    is_sqlite = dialect_name == "sqlite"
    dialect = _dialect(is_sqlite)
    customers, decisions = tables["customers"], tables["decisions"]
    perks, usage = tables["perks"], tables["perk_usage"]
    insert = sqlite.insert if is_sqlite else postgresql.insert
    name: sa.BindParameter[Any] = sa.bindparam("name")
    day: sa.BindParameter[Any] = sa.bindparam("day")

    def compiled(clause: sa.Executable) -> Statement:
        return _compile(clause, dialect)

    def use(*, within_budget: bool) -> sa.Executable:
        cost: sa.BindParameter[Any] = sa.bindparam("cost")
        return (
            insert(usage)
            .values(
                {usage.c.perk: name, usage.c.day: day, usage.c.issued: _ONE, usage.c.spent: cost}
            )
            .on_conflict_do_update(
                index_elements=[usage.c.perk, usage.c.day],
                set_={usage.c.issued: usage.c.issued + _ONE, usage.c.spent: usage.c.spent + cost},
                where=usage.c.spent + cost <= sa.bindparam("budget") if within_budget else None,
            )
            .returning(usage.c.issued)
        )

    return Statements(
        get_customer=compiled(
            sa.select(customers.c.signals, customers.c.updated_at).where(
                customers.c.site == sa.bindparam("site"), customers.c.id == sa.bindparam("id")
            )
        ),
        insert_decision=compiled(
            sa.insert(decisions).values({c: sa.bindparam(c.key) for c in decisions.c})
        ),
        take_stock=compiled(
            sa.update(perks)
            .where(perks.c.name == name, sa.or_(perks.c.stock.is_(None), perks.c.stock > _ZERO))
            .values({perks.c.stock: perks.c.stock - _ONE})
            .returning(perks.c.cost, perks.c.daily_budget)
        ),
        perk_exists=compiled(sa.select(_ONE).select_from(perks).where(perks.c.name == name)),
        put_back=compiled(
            sa.update(perks)
            .where(perks.c.name == name, perks.c.stock.is_not(None))
            .values({perks.c.stock: perks.c.stock + _ONE})
        ),
        use_unlimited=compiled(use(within_budget=False)),
        use_within_budget=compiled(use(within_budget=True)),
        unuse=compiled(
            sa.update(usage)
            .where(usage.c.perk == name, usage.c.day == day, usage.c.issued > _ZERO)
            .values(
                {
                    usage.c.issued: usage.c.issued - _ONE,
                    usage.c.spent: usage.c.spent
                    - sa.select(perks.c.cost).where(perks.c.name == name).scalar_subquery(),
                }
            )
        ),
        lock_perks=None
        if is_sqlite
        else compiled(
            sa.select(perks.c.name)
            .where(perks.c.name == sa.any_(sa.bindparam("names")))
            .order_by(perks.c.name)
            .with_for_update()
        ),
    )


@cache
def compiled_statements(dialect_name: str) -> Statements:
    """The schema's statements for ``dialect_name``, compiled once per process."""
    return build_statements(dialect_name)


def _dialect(is_sqlite: bool) -> Dialect:
    """The dialect of the driver the raw statements run on, with positional parameters
    (``?`` for ``sqlite3``, ``%s`` for psycopg)."""
    if is_sqlite:
        return sqlite.dialect(paramstyle="qmark")
    dialect = psycopg.dialect(paramstyle="format")
    # No ``::TYPE`` casts on the parameters: the values are converted in engine.store.raw
    # and psycopg types them itself, as for the statements written before.
    dialect.bind_typing = BindTyping.NONE
    return dialect


def _compile(clause: sa.Executable, dialect: Dialect) -> Statement:
    compiled = clause.compile(dialect=dialect)  # type: ignore[attr-defined]
    names = tuple(compiled.positiontup or ())
    return Statement(clause=clause, sql=compiled.string, names=names, _pick=itemgetter(*names))
