"""Store fixtures: each test runs on SQLite (a temp file) and PostgreSQL (a fresh schema),
through the ``url`` fixture of tests/conftest.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tierline.engine.store import Store


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    """An open, migrated store."""
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
