"""The store's database: opening builds and upgrades the schema, commits are durable, an
unusable or newer database is refused."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tests.engine.conftest import in_threads, store_decision
from tierline.engine.errors import StoreError
from tierline.engine.store import Store, head, upgrade
from tierline.engine.store.schema import metadata

TABLES = {
    "customers",
    "decisions",
    "visits",
    "outcomes",
    "perks",
    "perk_usage",
    "api_keys",
    "audit",
    "pairing_codes",
    "retention_marks",
    "alembic_version",
}


def test_open_builds_every_table_at_the_newest_revision(store: Store, url: str) -> None:
    """Opening an empty database creates all tables and records the head revision."""
    engine = sa.create_engine(url)
    try:
        assert set(sa.inspect(engine).get_table_names()) >= TABLES
        with engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT version_num FROM alembic_version")) == head()
    finally:
        engine.dispose()


def test_opening_and_upgrading_again_changes_nothing(url: str) -> None:
    """A second open and an explicit upgrade of a migrated database keep its data."""
    with Store.open(url) as first:
        first.upsert_customer("c1", {"visits": 3}, scope="")
    upgrade(url)
    with Store.open(url) as second:
        customer = second.get_customer("c1", scope="")
        assert customer is not None
        assert customer["signals"] == {"visits": 3}


def test_migrated_schema_matches_the_tables_the_code_queries(store: Store, url: str) -> None:
    """Alembic finds no difference between the migrated database and engine.store.schema."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_concurrent_first_opens_migrate_once(url: str) -> None:
    """Several processes starting on an empty database at once all open it successfully."""
    barrier = threading.Barrier(4)

    def open_one(_: int) -> bool:
        barrier.wait()
        with Store.open(url) as opened:
            return opened.ping()

    assert in_threads(open_one, 4, threads=4) == [True] * 4


def test_commits_are_durable(store: Store, backend: str) -> None:
    """SQLite runs in WAL with synchronous=FULL; PostgreSQL commits synchronously."""
    # The store's own pooled connection: synchronous is a per-connection setting.
    with store._db.engine.connect() as conn:
        if backend == "sqlite":
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        else:
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() != "off"


def test_a_decision_write_leaves_its_connection_durable_again(store: Store, backend: str) -> None:
    """Decisions are written at synchronous=NORMAL on the thread's raw connection; the
    durable write that follows on it (an outcome, here any) runs at FULL again, and the pooled
    connections were never relaxed."""
    store_decision(store)
    if backend == "sqlite":
        with store._db.raw.transaction(write=True, durable=False) as cur:
            assert cur.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        with store._db.raw.transaction(write=True, durable=True) as cur:
            assert cur.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        with store._db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_a_database_from_a_newer_tierline_is_refused(
    url: str, raw: Callable[[str], list[Any]]
) -> None:
    """A schema revision this code does not know is a StoreError that says to upgrade tierline."""
    upgrade(url)
    raw("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StoreError, match="newer tierline"):
        Store.open(url)


def test_unreachable_or_unusable_databases_raise_store_error(backend: str) -> None:
    """A database that cannot be reached or used is a StoreError naming the URL, not a crash."""
    bad = {
        "sqlite": ["sqlite:////proc/tierline/x.db", "sqlite://", "mysql://u@h/db", "::"],
        "postgresql": ["postgresql://postgres@127.0.0.1:1/test"],
    }[backend]
    for url in bad:
        with pytest.raises(StoreError):
            Store.open(url)


def test_ping_answers_true_while_the_database_is_up(store: Store) -> None:
    """Readiness: ping is True for a reachable store."""
    assert store.ping() is True
