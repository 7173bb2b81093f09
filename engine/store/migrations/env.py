"""Alembic's environment for tierline's store.

Normally ``engine.store.migrate.upgrade`` runs it on a connection it already holds (with
the migration lock taken, see that module). Authors of a new migration can run Alembic
directly from Python::

    from alembic import command
    from tierline.engine.store.migrate import alembic_config
    command.revision(alembic_config("sqlite:///var/dev.db"), "add x", autogenerate=True)
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from tierline.engine.store.database import Database
from tierline.engine.store.schema import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
elif (held := config.attributes.get("connection")) is not None:
    _run(held)
else:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("Set sqlalchemy.url: use engine.store.migrate.alembic_config(url)")
    database = Database(url)
    try:
        with database.write() as conn:
            _run(conn)
    finally:
        database.dispose()
