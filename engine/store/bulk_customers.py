"""Many customer profiles at once: ``tierline customers import`` and ``POST
/v1/customers/bulk``.

Profiles are written in chunks, one transaction each, so a long import lets the API's
own writes through between chunks (SQLite has one writer at a time). A crash mid-way
leaves whole chunks written and none half-written; the upsert is idempotent, so running
the same import again completes it. A row whose signals are already stored as given is
not rewritten, and keeps its ``updated_at``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tierline.engine.errors import DataError
from tierline.engine.store.database import StorePart
from tierline.engine.store.raw import RawCursor

__all__ = ["CHUNK_ROWS", "BulkCustomerStore", "Profile"]

CHUNK_ROWS = 10_000
# One customer's profile: its id and its signals (plain JSON values, missing ones absent),
# as a mapping or as the JSON text of one (a large import encodes whole columns at once).
Profile = tuple[str, Mapping[str, Any] | str]

_SQLITE_UPSERT = (
    "INSERT INTO customers (site, id, signals, updated_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (site, id) DO UPDATE SET signals = excluded.signals, "
    "updated_at = excluded.updated_at WHERE customers.signals IS NOT excluded.signals"
)
_SQLITE_KNOWN = (
    "SELECT count(*) FROM customers WHERE site = ? AND id IN (SELECT value FROM json_each(?))"
)
# PostgreSQL: the chunk is copied into a temporary table (COPY is the fast way in), then
# moved with one statement.
_PG_STAGE = (
    "CREATE TEMPORARY TABLE tierline_import (id text NOT NULL, signals jsonb NOT NULL) "
    "ON COMMIT DROP"
)
_PG_COPY = "COPY tierline_import (id, signals) FROM STDIN"
# An array of ids, looked up in the primary key: the temporary table has no statistics,
# and a join with it may be planned as a scan of every stored profile.
_PG_KNOWN = "SELECT count(*) FROM customers WHERE site = ? AND id = ANY(?)"
_PG_UPSERT = (
    "INSERT INTO customers (site, id, signals, updated_at) "
    "SELECT ?, id, signals, ? FROM tierline_import "
    "ON CONFLICT (site, id) DO UPDATE SET signals = EXCLUDED.signals, "
    "updated_at = EXCLUDED.updated_at "
    "WHERE customers.signals IS DISTINCT FROM EXCLUDED.signals"
)


class BulkCustomerStore(StorePart):
    """Profiles in bulk."""

    def upsert_customers(
        self,
        profiles: Sequence[Profile],
        *,
        scope: str,
        chunk_rows: int = CHUNK_ROWS,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, int]:
        """Create or replace the profiles in ``scope`` (as ``upsert_customer`` does one),
        ``chunk_rows`` to a transaction; ``progress`` hears the rows written so far.
        Returns the counts ``inserted``, ``updated`` and ``unchanged``.

        Raises ``DataError`` before writing anything when an id repeats."""
        seen: set[str] = set()
        for customer_id, _ in profiles:
            if customer_id in seen:
                raise DataError(
                    f"Customer id '{customer_id}' appears more than once; send each customer once"
                )
            seen.add(customer_id)
        counts = {"inserted": 0, "updated": 0, "unchanged": 0}
        for start in range(0, len(profiles), chunk_rows):
            chunk = profiles[start : start + chunk_rows]
            with self._db.raw.transaction(write=True, durable=True) as cur:
                known, changed = (
                    _sqlite_chunk(cur, chunk, scope=scope, now=self._now())
                    if cur.is_sqlite
                    else _pg_chunk(cur, chunk, scope=scope, now=self._now())
                )
            inserted = len(chunk) - known
            counts["inserted"] += inserted
            counts["updated"] += changed - inserted
            counts["unchanged"] += len(chunk) - changed
            if progress is not None:
                progress(start + len(chunk))
        return counts


def _sqlite_chunk(
    cur: RawCursor, chunk: Sequence[Profile], *, scope: str, now: Any
) -> tuple[int, int]:
    """Upsert one chunk; returns how many of its ids were stored already, and how many rows
    were written."""
    ids = [customer_id for customer_id, _ in chunk]
    known = cur.execute(_SQLITE_KNOWN, (scope, cur.json_text(ids))).fetchone()[0]
    before = cur.execute("SELECT total_changes()").fetchone()[0]
    at = cur.time(now)
    cur.executemany(_SQLITE_UPSERT, [(scope, i, _text(cur, signals), at) for i, signals in chunk])
    changed = cur.execute("SELECT total_changes()").fetchone()[0] - before
    return int(known), int(changed)


def _pg_chunk(cur: RawCursor, chunk: Sequence[Profile], *, scope: str, now: Any) -> tuple[int, int]:
    cur.execute(_PG_STAGE)
    cur.copy_rows(_PG_COPY, ((i, _text(cur, signals)) for i, signals in chunk))
    known = cur.execute(_PG_KNOWN, (scope, [i for i, _ in chunk])).fetchone()[0]
    changed = cur.execute(_PG_UPSERT, (scope, cur.time(now))).rowcount
    return int(known), int(changed)


def _text(cur: RawCursor, signals: Mapping[str, Any] | str) -> str:
    return signals if isinstance(signals, str) else cur.json_text(signals)
