"""Store fixtures: each test runs on SQLite (a temp file) and PostgreSQL (a fresh schema),
through the ``url`` fixture of tests/conftest.py, and the helpers the store's test modules
share.

PostgreSQL comes from ``TIERLINE_TEST_PG_URL`` (default: the local server's ``test``
database). Each test gets its own randomly named schema through ``search_path`` and drops
it afterwards, so runs never see each other. If PostgreSQL cannot be reached, its tests
fail: the store must be proven on both databases.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from tests.conftest import record_vip_decision
from tierline.engine.store import Store
from tierline.engine.store.database import Database
from tierline.engine.store.migrate import alembic_config

DAY = date(2025, 11, 26)
OUTCOME = {
    "spend": 84.5,
    "accepted": ["welcome_coffee"],
    "declined": [],
    "converted": True,
    "note": "Gäste mochten den Kaffee ☕ — 再来",
}


def store_decision(store: Store, *, customer_id: str | None = "c1", site: str = "paris") -> str:
    """Store a vip decision with a coffee cue and one reason; returns its id."""
    return record_vip_decision(
        store,
        customer_id,
        cues=[{"code": "welcome_coffee", "text": "Offer a coffee", "perk": "coffee"}],
        reasons=[{"feature": "visits_90d", "value": "14", "effect": 0.42}],
        site=site,
    )


def in_threads(fn: Callable[[int], Any], n: int, threads: int = 16) -> list[Any]:
    """``fn(0) .. fn(n - 1)`` run on ``threads`` threads at once; their results in order."""
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(fn, range(n)))


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database that Store.open migrated to the newest revision, once per process."""
    path = tmp_path_factory.mktemp("migrated") / "tierline.db"
    with Store.open(f"sqlite:///{path}"):
        pass
    return path


@pytest.fixture
def store(url: str, backend: str, migrated_sqlite: Path) -> Iterator[Store]:
    """An open, migrated store. On SQLite it opens a copy of a database migrated once: the
    migrations themselves run on the empty databases of the tests that take ``url``."""
    if backend == "sqlite":
        copy = Path(str(sa.make_url(url).database))
        copy.parent.mkdir(parents=True, exist_ok=True)
        source, target = sqlite3.connect(migrated_sqlite), sqlite3.connect(copy)
        with contextlib.closing(source), contextlib.closing(target):
            source.backup(target)
    with Store.open(url) as opened:
        yield opened


@pytest.fixture
def raw(url: str) -> Iterator[Callable[[str], list[Any]]]:
    """Run one SQL statement on the store's database, outside the store."""
    engine = sa.create_engine(url)

    def run(sql: str) -> list[Any]:
        with engine.begin() as conn:
            result = conn.execute(sa.text(sql))
            return list(result) if result.returns_rows else []

    yield run
    engine.dispose()


def migrate_to(url: str, revision: str, *statements: str, down: bool = False) -> None:
    """Move the database at ``url`` to ``revision`` (an older release's schema), then run
    ``statements`` (with ``:t``, a fixed time) in the same transaction."""
    database = Database(url)
    try:
        with database.write() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            (command.downgrade if down else command.upgrade)(config, revision)
            for sql in statements:
                conn.execute(sa.text(sql), {"t": datetime(2025, 11, 26, tzinfo=UTC)})
    finally:
        database.dispose()
