"""Schema migrations: Alembic, configured from code (no alembic.ini), run at every open.

The scripts live in ``engine/store/migrations`` and ship inside the package, so an
installed tierline can migrate its own database. Several processes may start at once
(API workers, replicas, the CLI): each runs the upgrade inside one transaction that first
takes a lock, so exactly one creates or alters tables and the others then find the schema
at head and do nothing. The lock is ``pg_advisory_xact_lock`` on PostgreSQL (DDL there is
transactional) and ``BEGIN IMMEDIATE`` (the database's write lock) on SQLite.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError

from tierline.engine.errors import StoreError
from tierline.engine.store.database import Database

__all__ = ["MIGRATIONS", "alembic_config", "head", "upgrade"]

MIGRATIONS = Path(__file__).with_name("migrations")

# An arbitrary constant naming tierline's migration lock among the database's advisory locks.
_PG_LOCK_KEY = 0x7469_6572_6C6E  # "tierln"


def alembic_config(url: str | None = None) -> Config:
    """Alembic's configuration for tierline's migrations, optionally with a database URL."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        # The config is a ConfigParser: '%' (URL escapes) must be doubled.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head() -> str:
    """The newest revision this code knows."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None, "no migrations shipped"
    return revision


def upgrade(url: str) -> None:
    """Bring the database at ``url`` to the newest schema; safe to run from many processes."""
    database = Database(url)
    try:
        upgrade_database(database)
    finally:
        database.dispose()


def upgrade_database(database: Database) -> None:
    """``upgrade`` on an open database (``Store.open`` uses its own engine)."""
    config = alembic_config()
    try:
        with database.write() as conn:
            if not database.is_sqlite:
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    except CommandError as error:
        raise StoreError(
            f"Cannot migrate the store at '{database.name}': {error}. If the database was "
            "migrated by a newer tierline, upgrade tierline rather than the database"
        ) from error
