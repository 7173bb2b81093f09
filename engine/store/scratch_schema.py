"""An empty PostgreSQL schema of its own, for a store that must start from nothing and
leave nothing behind (the tests and the benchmarks that run on PostgreSQL)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator

import sqlalchemy as sa

__all__ = ["fresh_schema"]


@contextlib.contextmanager
def fresh_schema(admin: sa.Engine, *, prefix: str) -> Iterator[str]:
    """A URL to a new, randomly named schema of ``admin``'s database (its ``search_path``
    set there), dropped with all it holds on leaving the block."""
    schema = f"{prefix}_{secrets.token_hex(6)}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        scoped = admin.url.update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
