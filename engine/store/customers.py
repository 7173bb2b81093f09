"""Customer profiles (CRM sync and lookup) and the decisions made for customers."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tierline.engine.errors import Conflict, DataError
from tierline.engine.store.database import StorePart
from tierline.engine.store.perks import pick_cues
from tierline.engine.store.raw import RawCursor, refused_kind
from tierline.engine.store.schema import customers, decisions

__all__ = ["CUSTOMER_ID_PATTERN", "CustomerStore", "insert_decisions", "new_decision_id"]

# One alphabet for customer ids wherever they arrive (a body, a path, an imported file): an
# id that is stored can be read and updated through /v1/customers/{id} (no "/", no spaces,
# no control characters).
CUSTOMER_ID_PATTERN = r"^[A-Za-z0-9._:@-]{1,128}$"

DECISION_FIELDS = (
    "customer_id",
    "site",
    "tier",
    "confidence",
    "score",
    "cues",
    "reasons",
    "model_version",
    "holdout",
    "degraded",
)
_PLAIN_FIELDS = ("customer_id", "site", "tier", "confidence", "score", "model_version")


def new_decision_id() -> str:
    """A decision id: 32 hex digits like ``uuid4().hex``, but the first 12 are the time in
    milliseconds (as in UUIDv7), so new rows land at the end of the primary key's index.
    With random ids each insert dirtied a random page of an index that outgrew the cache,
    and the decision route slowed down as the table grew (3,000 to 1,900 a second within
    a minute on the http benchmark)."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


class CustomerStore(StorePart):
    """Customers and decisions."""

    def get_customer(self, customer_id: str, *, scope: str) -> dict[str, Any] | None:
        """The profile ``{"id", "signals", "updated_at"}`` stored in ``scope`` (a site, or
        ``''`` for the chain: ``Store.profile_scope``), or None if unknown there."""
        # On every decision: a raw statement (engine.store.raw), one primary-key lookup.
        with self._db.raw.transaction(write=False, durable=True) as cur:
            row = cur.run(cur.sql.get_customer, {"site": scope, "id": customer_id}).fetchone()
            if row is None:
                return None
            return {
                "id": customer_id,
                "signals": cur.load_json(row[0]),
                "updated_at": cur.load_time(row[1]),
            }

    def upsert_customer(
        self, customer_id: str, signals: Mapping[str, Any], *, scope: str
    ) -> dict[str, Any]:
        """Create or replace a customer's profile signals in ``scope`` (the CRM's PUT);
        another scope's profile of the same id is left alone."""
        values = {"id": customer_id, "signals": dict(signals), "updated_at": self._now()}
        stmt = self._db.insert(customers).values({**values, "site": scope})
        stmt = stmt.on_conflict_do_update(
            index_elements=[customers.c.site, customers.c.id],
            set_={"signals": stmt.excluded.signals, "updated_at": stmt.excluded.updated_at},
        )
        with self._db.write() as conn:
            conn.execute(stmt)
        return values

    def record_decision(
        self,
        *,
        customer_id: str | None,
        site: str,
        tier: str,
        confidence: float,
        score: float,
        cues: Sequence[Mapping[str, Any]],
        reasons: Sequence[Mapping[str, Any]],
        model_version: str | None,
        holdout: bool,
        degraded: bool,
        signals: Mapping[str, Any] | None = None,
    ) -> str:
        """Store one decision; returns its id. ``cues``/``reasons`` are JSON-ready dicts,
        ``signals`` the merged signals it was decided on."""
        (decision_id,) = self.record_decisions(
            [
                {
                    "customer_id": customer_id,
                    "site": site,
                    "tier": tier,
                    "confidence": confidence,
                    "score": score,
                    "cues": cues,
                    "reasons": reasons,
                    "model_version": model_version,
                    "holdout": holdout,
                    "degraded": degraded,
                    "signals": signals,
                }
            ]
        )
        return decision_id

    def record_decisions(self, items: Sequence[Mapping[str, Any]]) -> list[str]:
        """Store many decisions in one transaction (one disk sync), each a mapping with
        ``record_decision``'s keyword arguments and, if it has one already, its
        ``decision_id`` (from ``new_decision_id``); returns their ids in order. The
        ``signals`` of an item (the merged record it was decided on) are kept for export
        and drift until retention prunes them.

        An item with a ``pick_cues`` (``engine.store.perks.CuePick``) gets its cues picked
        in this transaction, its perks taken there: a failed write takes none."""
        if not items:
            return []
        # Not durable: see engine/store/database.py; the outcome that follows is. On every
        # decision, so a raw statement (engine.store.raw).
        with self._db.raw.transaction(write=True, durable=False) as cur:
            return insert_decisions(cur, items, now=self._now())

    def get_decision(self, decision_id: str) -> dict[str, Any] | None:
        """The stored decision with its id and ``created_at``, or None if unknown."""
        with self._db.read() as conn:
            row = conn.execute(sa.select(decisions).where(decisions.c.id == decision_id)).first()
        return None if row is None else dict(row._mapping)


def insert_decisions(
    cur: RawCursor, items: Sequence[Mapping[str, Any]], *, now: datetime
) -> list[str]:
    """``CustomerStore.record_decisions`` in the caller's write transaction."""
    ids = [item.get("decision_id") or new_decision_id() for item in items]
    created_at = cur.time(now)
    rows = [
        {
            "id": decision_id,
            **{name: item[name] for name in _PLAIN_FIELDS},
            "cues": cur.json([dict(c) for c in cues]),
            "reasons": cur.json([dict(r) for r in item["reasons"]]),
            "holdout": bool(item["holdout"]),
            "degraded": bool(item["degraded"]),
            "created_at": created_at,
            "signals": None if item.get("signals") is None else cur.json(item["signals"]),
        }
        for decision_id, item, cues in zip(ids, items, pick_cues(cur, items), strict=True)
    ]
    try:
        cur.run_many(cur.sql.insert_decision, rows)
    except Exception as error:
        kind = refused_kind(error)
        if kind == "integrity":
            raise Conflict(
                f"A decision could not be stored: {error}; a decision id is stored once, "
                "so ask for a new decision"
            ) from error
        if kind == "data":
            raise DataError(
                f"A decision could not be stored: the database refused a value ({error}); "
                "remove control characters such as NUL from the customer id and signals"
            ) from error
        raise
    return ids
