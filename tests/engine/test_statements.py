"""The raw statements of the decision path (engine.store.statements) come from the schema's
tables and name only columns that the migrated database has, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import fields
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.sql import visitors

from tierline.engine.store import Store
from tierline.engine.store.schema import metadata
from tierline.engine.store.statements import (
    Statement,
    Statements,
    build_statements,
    compiled_statements,
)

# A value of the right kind for each parameter name, for the database to plan the SQL with.
SAMPLES: dict[str, Any] = {
    "site": "lyon",
    "id": "c1",
    "name": "coffee",
    "names": ["coffee", "dessert"],
    "cost": 2.5,
    "budget": 10.0,
    "customer_id": "c1",
    "tier": "vip",
    "confidence": 0.9,
    "score": 0.9,
    "model_version": "v0001",
    "holdout": False,
    "degraded": False,
}


def _statements(compiled: Statements) -> Iterator[tuple[str, Statement]]:
    for field in fields(compiled):
        statement = getattr(compiled, field.name)
        if statement is not None:
            yield field.name, statement


def _columns_named(statement: Statement) -> set[tuple[str, str]]:
    """Every (table, column) the statement's clause refers to: selected, compared or set."""
    return {
        (element.table.name, element.name)
        for element in visitors.iterate(statement.clause)
        if isinstance(element, sa.Column) and isinstance(element.table, sa.Table)
    }


def _schema_copy(
    *, tables: Mapping[str, str] | None = None, columns: Mapping[tuple[str, str], str] | None = None
) -> dict[str, sa.Table]:
    """The schema's tables copied into a new MetaData, with ``tables`` renamed (old name to
    new) and ``columns`` renamed ((table, old name) to new), keyed by their old names."""
    tables, columns = tables or {}, columns or {}
    copy = sa.MetaData()
    return {
        table.name: sa.Table(
            tables.get(table.name, table.name),
            copy,
            *(
                sa.Column(
                    columns.get((table.name, c.name), c.name),
                    c.type,
                    primary_key=c.primary_key,
                    nullable=c.nullable,
                )
                for c in table.columns
            ),
        )
        for table in metadata.sorted_tables
    }


def test_every_column_a_raw_statement_names_exists_in_the_migrated_database(
    store: Store, url: str, backend: str
) -> None:
    """Each compiled statement names only tables and columns of the migrated database."""
    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        migrated = {
            (table, column["name"])
            for table in inspector.get_table_names()
            for column in inspector.get_columns(table)
        }
    finally:
        engine.dispose()
    named = {name: _columns_named(s) for name, s in _statements(compiled_statements(backend))}
    assert all(named.values()), "each statement names some columns"
    assert {name: columns - migrated for name, columns in named.items()} == {
        name: set() for name in named
    }


def test_the_migrated_database_accepts_every_compiled_statement(
    store: Store, url: str, backend: str
) -> None:
    """The database plans each compiled SQL string, with its parameters in their order."""
    engine = sa.create_engine(url)
    connection = engine.raw_connection()
    day = date(2026, 11, 26)
    samples = {**SAMPLES, "day": day.isoformat() if backend == "sqlite" else day}
    try:
        cursor = connection.cursor()
        planned = []
        for name, statement in _statements(compiled_statements(backend)):
            values = {n: samples.get(n) for n in statement.names}
            cursor.execute(f"EXPLAIN {statement.sql}", statement.params(values))
            planned.append((name, bool(cursor.fetchall())))
        connection.rollback()
    finally:
        connection.close()
        engine.dispose()
    assert planned and all(ok for _, ok in planned), planned


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_compiled_sql_follows_a_copy_of_the_schema(dialect: str) -> None:
    """A faithful copy of the schema compiles to the same SQL; renaming a table in the
    copy renames it in the SQL."""
    same = build_statements(dialect, _schema_copy())
    assert [s.sql for _, s in _statements(same)] == [
        s.sql for _, s in _statements(compiled_statements(dialect))
    ]
    renamed = build_statements(
        dialect, _schema_copy(tables={"perk_usage": "perk_use", "decisions": "decision_log"})
    )
    assert "INSERT INTO perk_use " in renamed.use_unlimited.sql
    assert "perk_usage" not in renamed.unuse.sql
    assert renamed.insert_decision.sql.startswith("INSERT INTO decision_log ")


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_renamed_column_changes_or_breaks_the_compiled_sql(dialect: str) -> None:
    """A decision column renamed in a copy of the schema is renamed in the decision's
    INSERT; a perk column the statements name is refused when the copy lacks it."""
    renamed = build_statements(dialect, _schema_copy(columns={("decisions", "tier"): "level"}))
    assert "level" in renamed.insert_decision.names
    assert "tier" not in renamed.insert_decision.names
    assert " tier," not in renamed.insert_decision.sql
    with pytest.raises(AttributeError, match="stock"):
        build_statements(dialect, _schema_copy(columns={("perks", "stock"): "units"}))


def test_parameters_follow_the_order_the_sql_takes_them() -> None:
    """A statement's positional parameters follow its SQL, a repeated name repeated."""
    statement = compiled_statements("sqlite").use_within_budget
    values = {"name": "coffee", "day": "2026-11-26", "cost": 2.5, "budget": 10.0}
    assert statement.params(values) == ("coffee", "2026-11-26", 2.5, 2.5, 2.5, 10.0)
    single = compiled_statements("postgresql").perk_exists
    assert single.params({"name": "coffee"}) == ("coffee",)
