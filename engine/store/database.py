"""The connection to the database: one engine per URL, two kinds of transaction, UTC times.

Kept whole (over 400 lines): the engine, its two kinds of transaction and the WAL checkpoint thread share one connection's life.

SQLite (the embedded default) runs in WAL mode with ``synchronous=FULL``, so a commit is
on disk before the call returns. Decisions and the perks they issue are the exception
(``engine.store.raw``, ``durable=False``): they are written at ``synchronous=NORMAL``,
which in WAL mode survives a crash of the process but may lose the last commits on a
power cut, because one fsync per decision capped the service at a few hundred decisions
a second (and a perk's fsync stalled its worker's event loop). Outcomes, visits and keys
stay FULL. SQLite writers queue on a lock of their own (``_WriteTurn``: a thread lock in
the process, ``flock`` on a file beside the database between processes) rather than on
SQLite's busy handler, which sleeps 1, 2, 5, 10... ms between tries and made the slowest
writes wait up to a second under load. SQLAlchemy emits ``BEGIN`` itself (the documented
recipe, ``sqlite3``'s own transaction handling is switched off) so that a write
transaction can take the write lock up front with ``BEGIN IMMEDIATE``: two writers then queue on the busy
timeout instead of one failing with "database is locked" when it upgrades a read lock.

PostgreSQL runs at READ COMMITTED; the store's writes are single conditional statements
or rely on row locks and unique indexes, so they need nothing stronger.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.engine.url import URL, make_url

from tierline.engine.errors import StoreError
from tierline.engine.store.raw import RawConnections, store_unavailable, unavailable_error

__all__ = [
    "Database",
    "StorePart",
    "UTCDateTime",
    "is_foreign_key_violation",
    "is_unique_violation",
    "utcnow",
]

SQLITE_BUSY_TIMEOUT_S = 30.0
PG_CONNECT_TIMEOUT_S = 10
_WRITE = "tierline_write"  # execution option read by the SQLite BEGIN hook
log = logging.getLogger("tierline.store")


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores naive UTC text)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}; the store keeps UTC-aware times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json_default(value: Any) -> Any:
    """What JSON has no type for, as a decision's signals can hold when they come from a
    data frame rather than a request: times as ISO text, numpy scalars as Python's."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return item()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# Unicode stays readable in the database and in backups; the round trip is the same. One
# encoder for all: json.dumps with options builds a new one per call (twice a decision).
_json_dumps = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), default=_json_default
).encode


class Database:
    """One SQLAlchemy engine for a SQLite file or a PostgreSQL database."""

    def __init__(self, url: str) -> None:
        self.url = _parse_url(url)
        self.name = self.url.render_as_string(hide_password=True)
        backend = self.url.get_backend_name()
        if backend == "sqlite":
            self.engine = _sqlite_engine(self.url)
        elif backend == "postgresql":
            self.engine = _postgresql_engine(self.url)
        else:
            raise StoreError(
                f"Database URL '{self.name}' is neither SQLite nor PostgreSQL; use "
                "sqlite:///var/tierline.db or postgresql+psycopg://user@host/db"
            )
        self.is_sqlite = backend == "sqlite"
        # SQLite has one writer at a time; tierline's writers wait their turn here.
        self._write_turn = _WriteTurn(f"{self.url.database}.write-lock") if self.is_sqlite else None
        # Imported here: the statements are built from the schema, whose types live here.
        from tierline.engine.store.statements import compiled_statements

        # The per-decision statements, on the driver's own connection (engine.store.raw).
        self.raw = RawConnections(
            self.engine,
            name=self.name,
            is_sqlite=self.is_sqlite,
            dumps=_json_dumps,
            configure=_sqlite_connect,
            write_turn=self._write_turn,
            statements=compiled_statements(backend),
        )
        self._checkpointer = (
            _Checkpointer(self.url.database, self._write_turn)
            if self._write_turn is not None and self.url.database
            else None
        )

    def insert(self, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
        """An INSERT that knows ``ON CONFLICT`` on this backend."""
        return sqlite.insert(table) if self.is_sqlite else postgresql.insert(table)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (deferred on SQLite: it takes no write lock)."""
        with self._translated(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction, committed on exit; on SQLite it holds the write lock from
        BEGIN."""
        turn = self._write_turn or contextlib.nullcontext()
        with self._translated(), turn, self.engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.select(1))
        except exc.SQLAlchemyError:
            return False
        return True

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.raw.close()
        self.engine.dispose()
        if self._write_turn is not None:
            self._write_turn.close()

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except (exc.OperationalError, exc.InterfaceError) as error:
            raise store_unavailable(self.name, error.orig) from error
        except Exception as error:  # a raw statement's driver error (``raw.cursor_of``)
            unavailable = unavailable_error(self.name, error)
            if unavailable is not None:
                raise unavailable from error
            raise


class _WriteTurn:
    """One SQLite writer at a time across threads and processes, woken in turn by the
    kernel. Re-entrant within a thread (only the outermost turn takes and frees the file
    lock)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._fd: int | None = None
        self._thread_lock = threading.RLock()
        self._depth = 0

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        try:
            if self._depth == 0:
                if self._fd is None:
                    try:
                        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
                    except OSError as error:
                        raise StoreError(
                            f"Cannot open the SQLite write lock '{self._path}': {error}"
                        ) from error
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._depth += 1
        except BaseException:
            self._thread_lock.release()
            raise

    def __exit__(self, *_: object) -> None:
        self._depth -= 1
        try:
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    def close(self) -> None:
        with self._thread_lock:
            if self._fd is not None and self._depth == 0:
                os.close(self._fd)
                self._fd = None


_RESTART_FRAMES = 4096  # 16 MB of WAL with 4 KiB pages


class _Checkpointer:
    """Copies the WAL back into the database file from a thread of its own, and starts
    the WAL over.

    SQLite's automatic checkpoint runs inside the commit that crosses 1,000 WAL pages,
    while that writer holds the write lock, and with an fsync, so every other writer of
    every worker waits behind that commit. Worse, under a steady stream of decisions from
    two workers the WAL never started over (a checkpoint must catch up with the last
    writer while no reader uses the WAL, and one always did): it kept growing, and reads,
    which search the WAL's index, slowed down with it (figures: benchmarks/README.md,
    "Figures behind design choices").

    So every ``interval`` this thread runs a PASSIVE checkpoint, which copies the bulk
    without blocking anyone (``sqlite3`` lets go of the GIL meanwhile), then takes the
    store's write turn for a moment and, once the WAL holds more than
    ``_RESTART_FRAMES`` pages, finishes with RESTART, which copies the few pages written
    since and makes the next writer start the WAL from the beginning. Each process with
    an open store runs one.
    """

    def __init__(self, path: str, turn: _WriteTurn, interval: float = 0.2) -> None:
        self._path = path
        self._turn = turn
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tierline-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while not self._stopped.wait(self._interval):
                try:
                    if conn is None:
                        conn = sqlite3.connect(self._path, timeout=0.05, isolation_level=None)
                    _, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    if frames >= _RESTART_FRAMES:
                        with self._turn:  # no tierline writer now; readers finish in µs
                            conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()
                except (sqlite3.Error, StoreError) as error:  # busy: try next time
                    log.debug("background checkpoint of %s skipped: %s", self._path, error)
        finally:
            if conn is not None:
                conn.close()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)


def _parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except exc.ArgumentError as error:
        raise StoreError(
            f"Database URL {url!r} cannot be parsed; use sqlite:///var/tierline.db or "
            "postgresql+psycopg://user@host/db"
        ) from error
    if parsed.drivername == "postgresql":
        # psycopg (3) is the driver tierline ships; plain postgresql:// would ask for psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_engine(url: URL) -> Engine:
    path = url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        raise StoreError(
            f"Database URL '{url}' is an in-memory SQLite database, which every pooled "
            "connection would see empty; use a file such as sqlite:///var/tierline.db"
        )
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreError(f"Cannot create the folder for SQLite file '{path}': {error}") from error
    engine = sa.create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
        json_serializer=_json_dumps,
        hide_parameters=True,  # a statement's values (notes, keys, ids) never reach a log
    )
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN (see _sqlite_begin)
    cursor = dbapi_connection.cursor()
    try:
        _enable_wal(cursor)
        # FULL: a commit (an outcome, a visit, a key) survives a power cut, not only a crash.
        cursor.execute("PRAGMA synchronous=FULL")
        # No checkpoint inside a commit: _Checkpointer does them in the background.
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        # After a restart the WAL file is cut back to this size (bytes), not left at its peak.
        cursor.execute("PRAGMA journal_size_limit=67108864")
        # Pages read through a memory map, not a read() each: with two workers writing,
        # each one's page cache is dropped whenever the other has written.
        cursor.execute("PRAGMA mmap_size=268435456")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _enable_wal(cursor: Any) -> None:
    """Switch a new database file to WAL (a persistent setting: later connections see it).

    Several processes opening a fresh file at once race for this switch, and SQLite answers
    the losers "database is locked" at once instead of waiting on the busy timeout, so the
    switch is retried here within that timeout (seen: a concurrent first open failing).
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL").fetchall()
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(_WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _postgresql_engine(url: URL) -> Engine:
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
    return sa.create_engine(
        url,
        connect_args=connect_args,
        json_serializer=_json_dumps,
        hide_parameters=True,  # a statement's values (notes, keys, ids) never reach a log
        pool_pre_ping=True,  # survive a database restart without failing the next request
    )


def is_unique_violation(error: Exception) -> bool:
    """Did a unique index or primary key refuse the row? (SQLAlchemy's IntegrityError or
    the driver's own, from a raw statement)"""
    return _constraint(error) == "unique"


def is_foreign_key_violation(error: Exception) -> bool:
    """Did a foreign key refuse the row (it points at nothing)?"""
    return _constraint(error) == "foreign_key"


def _constraint(error: Exception) -> str | None:
    orig = error.orig if isinstance(error, exc.StatementError) else error
    sqlstate = getattr(orig, "sqlstate", None)  # psycopg
    if sqlstate is not None:
        return {"23505": "unique", "23503": "foreign_key"}.get(sqlstate)
    name = getattr(orig, "sqlite_errorname", None)  # sqlite3, Python >= 3.11
    return {
        "SQLITE_CONSTRAINT_UNIQUE": "unique",
        "SQLITE_CONSTRAINT_PRIMARYKEY": "unique",
        "SQLITE_CONSTRAINT_FOREIGNKEY": "foreign_key",
    }.get(str(name))


def utcnow() -> datetime:
    return datetime.now(UTC)


class StorePart:
    """What every part of the store shares: the database and the clock."""

    def __init__(self, database: Database, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = database
        self._now = clock
