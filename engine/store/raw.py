"""Statements on the DBAPI connection itself, for the few that run on every decision.

A decision reads a profile, may take a perk and writes one row. Through SQLAlchemy Core
those three cost many times what the driver itself spends (statement cache keys,
execution contexts, the begin and commit events), more than the model (figures:
benchmarks/README.md, "Figures behind design choices"). So these
statements are plain SQL run on the driver's connection, for both databases, with the
few conversions SQLAlchemy's column types would do (JSON, UTC times, dates) done here.
Everything else in the store stays on SQLAlchemy Core.

The SQL is compiled from the schema's tables when the store opens
(``engine.store.statements``) and run with ``run``; ``execute`` takes SQL text with ``?``
placeholders (``sqlite3``'s style), turned into ``%s`` for psycopg. SQLite connections are one per thread and made the way the engine makes its own
(WAL, ``synchronous=FULL``, foreign keys); PostgreSQL ones come from the engine's pool.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection, Engine

from tierline.engine.errors import StoreError

if TYPE_CHECKING:  # statements imports the schema, which imports this module's importer
    from tierline.engine.store.statements import Statement, Statements

__all__ = [
    "RawConnections",
    "RawCursor",
    "refused_kind",
    "store_unavailable",
    "unavailable_error",
    "without_values",
]

# SQLAlchemy's storage format for DateTime on SQLite: the rows written here and those
# written through Core must read back alike (and sort alike as text).
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


def without_values(text: str) -> str:
    """``text`` (a driver's error, a traceback) without PostgreSQL's DETAIL lines, which may
    quote a row's values ("Failing row contains (...)")."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("DETAIL:"))


def store_unavailable(name: str, detail: object) -> StoreError:
    """The error for a lost server, a refused connection or a busy timeout: the store being
    unavailable (a 503 for the API), not a bug in the request. Core and raw statements
    alike."""
    return StoreError(
        f"The store at '{name}' is unavailable: {without_values(str(detail))}; check that the database is running "
        "and TIERLINE_DATABASE_URL points at it"
    )


def unavailable_error(name: str, error: BaseException) -> StoreError | None:
    """``store_unavailable`` for a driver's error that means the database is unavailable
    (a lost connection, a busy timeout, disk I/O), None for any other error."""
    if isinstance(error, sqlite3.OperationalError | sqlite3.InterfaceError):
        return store_unavailable(name, error)
    if isinstance(error, Exception) and _is_psycopg_operational(error):
        return store_unavailable(name, error)
    return None


class RawCursor:
    """A cursor in one transaction, with the value conversions of the store's columns."""

    def __init__(
        self,
        cursor: Any,
        *,
        is_sqlite: bool,
        dumps: Callable[[Any], str],
        statements: Statements,
    ) -> None:
        self._cursor = cursor
        self._is_sqlite = is_sqlite
        self.is_sqlite = is_sqlite
        self._dumps = dumps
        self.sql = statements
        if not is_sqlite:
            from psycopg.types.json import Jsonb

            self._jsonb = Jsonb

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run ``sql`` (``?`` placeholders); returns the cursor to fetch from."""
        return self._cursor.execute(sql if self._is_sqlite else _pg_sql(sql), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._cursor.executemany(sql if self._is_sqlite else _pg_sql(sql), rows)

    def run(self, statement: Statement, values: Mapping[str, Any]) -> Any:
        """Run one of ``self.sql``'s statements with its parameters by name; returns the
        cursor to fetch from."""
        return self._cursor.execute(statement.sql, statement.params(values))

    def run_many(self, statement: Statement, rows: Iterable[Mapping[str, Any]]) -> None:
        self._cursor.executemany(statement.sql, [statement.params(row) for row in rows])

    def json(self, value: Any) -> Any:
        """A parameter for a JSON column."""
        if self._is_sqlite:
            return self._dumps(value)
        return self._jsonb(value, dumps=self._dumps)

    def json_text(self, value: Any) -> str:
        """``value`` as the store's JSON text (for a statement that parses it itself)."""
        return self._dumps(value)

    def copy_rows(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """PostgreSQL only: stream ``rows`` through ``COPY ... FROM STDIN``."""
        assert not self._is_sqlite, "COPY is PostgreSQL's"
        with self._cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)

    def load_json(self, value: Any) -> Any:
        """A JSON column's value as read (SQLite keeps text; psycopg already decoded it)."""
        return json.loads(value) if isinstance(value, str | bytes) else value

    def load_json_many(self, values: Sequence[Any]) -> list[Any]:
        """``load_json`` of many values; SQLite's texts are decoded in one call, which
        saves the per-call cost that dominates a page of small documents."""
        if not values or not all(isinstance(v, str) for v in values):
            return [self.load_json(v) for v in values]
        decoded: list[Any] = json.loads("[" + ",".join(values) + "]")
        return decoded

    def time(self, value: datetime) -> Any:
        """A parameter for a UTC time column (the store's ``UTCDateTime``)."""
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None).strftime(_SQLITE_TIME) if self._is_sqlite else value

    def load_time(self, value: Any) -> datetime:
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def day(self, value: date) -> Any:
        """A parameter for a date column (SQLite keeps ISO text, as SQLAlchemy does)."""
        return value.isoformat() if self._is_sqlite else value


class RawConnections:
    """Where the raw statements get their connection and their transaction."""

    def __init__(
        self,
        engine: Engine,
        *,
        name: str,
        is_sqlite: bool,
        dumps: Callable[[Any], str],
        configure: Callable[[Any, Any], None],
        write_turn: AbstractContextManager[Any] | None,
        statements: Statements,
    ) -> None:
        self._engine = engine
        self._statements = statements
        self._name = name
        self._is_sqlite = is_sqlite
        self._dumps = dumps
        self._configure = configure
        self._write_turn = write_turn
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self, *, write: bool, durable: bool) -> Iterator[RawCursor]:
        """One transaction, committed on exit and rolled back on an error (on SQLite a read
        is a single statement in autocommit mode, no transaction around it). A SQLite write
        holds the store's write turn and takes the write lock up front (``BEGIN
        IMMEDIATE``); ``durable=False`` commits at ``synchronous=NORMAL`` (see
        ``engine.store.database``)."""
        try:
            if self._is_sqlite:
                with self._sqlite(write=write, durable=durable) as cursor:
                    yield cursor
            else:
                with self._postgresql() as cursor:
                    yield cursor
        except Exception as error:
            unavailable = unavailable_error(self._name, error)
            if unavailable is not None:
                raise unavailable from error
            raise

    def cursor_of(self, conn: Connection) -> RawCursor:
        """A raw cursor in the transaction of a SQLAlchemy connection (``Database.write``),
        so raw statements and Core ones commit or roll back together."""
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None  # an open connection in a transaction
        return RawCursor(
            dbapi.cursor(),
            is_sqlite=self._is_sqlite,
            dumps=self._dumps,
            statements=self._statements,
        )

    @contextmanager
    def _sqlite(self, *, write: bool, durable: bool) -> Iterator[RawCursor]:
        conn = self._thread_connection()
        turn = self._write_turn if write and self._write_turn is not None else None
        if turn is not None:
            turn.__enter__()
        try:
            # The connection is this thread's alone, so it keeps the last level set rather
            # than going back to FULL after each relaxed write. Set outside a transaction:
            # SQLite ignores it inside one.
            level = "FULL" if durable else "NORMAL"
            if write and self._local.synchronous != level:
                conn.execute(f"PRAGMA synchronous={level}")
                self._local.synchronous = level
            if not write:  # one statement: autocommit mode reads a consistent snapshot
                yield RawCursor(
                    conn, is_sqlite=True, dumps=self._dumps, statements=self._statements
                )
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield RawCursor(
                    conn, is_sqlite=True, dumps=self._dumps, statements=self._statements
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            if turn is not None:
                turn.__exit__(None, None, None)

    def _thread_connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            database = self._engine.url.database
            assert database is not None  # Database refuses in-memory and empty paths
            conn = sqlite3.connect(database, timeout=30.0, check_same_thread=False)
            self._configure(conn, None)  # autocommit mode, WAL, FULL, foreign keys
            self._local.conn = conn
            self._local.synchronous = "FULL"
            with self._lock:
                self._opened.append(conn)
        return conn

    @contextmanager
    def _postgresql(self) -> Iterator[RawCursor]:
        conn = self._engine.raw_connection()
        try:
            cursor = conn.cursor()
            try:
                yield RawCursor(
                    cursor, is_sqlite=False, dumps=self._dumps, statements=self._statements
                )
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        finally:
            conn.close()  # back to the pool

    def close(self) -> None:
        """Close the SQLite connections of every thread (PostgreSQL's go with the pool)."""
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
        self._local = threading.local()


def _pg_sql(sql: str) -> str:
    return _PG_CACHE.get(sql) or _PG_CACHE.setdefault(sql, sql.replace("?", "%s"))


_PG_CACHE: dict[str, str] = {}


def refused_kind(error: BaseException) -> str | None:
    """``"integrity"`` when the driver's error is a constraint refusing a row, ``"data"``
    when it is a value the database cannot hold (PostgreSQL refuses NUL characters in
    text), None for anything else."""
    if isinstance(error, sqlite3.IntegrityError):
        return "integrity"
    if isinstance(error, sqlite3.DataError):
        return "data"
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return None
    if isinstance(error, psycopg.IntegrityError):
        return "integrity"
    if isinstance(error, psycopg.DataError):
        return "data"
    return None


def _is_psycopg_operational(error: Exception) -> bool:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(error, psycopg.OperationalError | psycopg.InterfaceError)
