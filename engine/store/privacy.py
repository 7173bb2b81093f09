"""Privacy: erasing a customer, and retention of the signals decisions and visits keep.

What is personal, and goes, while the figures stay:

- a decision loses its customer id, the signals it was decided on, its cue texts (a
  personal cue's text repeats a signal, such as the car brand on the dessert; the text
  becomes the cue's code) and its reasons' values and texts (``visits_90d = 14``; the text becomes the feature's name). Tier,
  confidence, score, cue codes and perks, each reason's feature and effect, model
  version, holdout and time stay;
- a visit loses its customer id, where the customer came from (``source``) and the free
  text of a staff override's reason; ticket, party size, times, spend and tiers stay;
- an outcome loses its staff note; spend, cues accepted or declined and conversion stay.

An erasure deletes the customer's profiles (the chain's and every site's) and scrubs every
decision, visit and outcome of the customer in one transaction, and appends to the audit log who erased, when, and a salted
SHA-256 of the id (never the id). Nothing indexes decisions or visits by customer (an
index would cost every decision's insert), so an erasure reads both tables whole.

Retention scrubs the same parts, but not the customer id, from decisions and visits older
than a cut-off. It walks each table in primary-key order from a mark kept in
``retention_marks`` (decision ids begin with their time, visit ids grow with check-ins),
in short transactions of ``_CHUNK`` rows, so it never holds SQLite's write lock for long
and each pass starts where the last one stopped.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tierline.engine.errors import NotFound
from tierline.engine.store.database import StorePart
from tierline.engine.store.schema import (
    audit,
    customers,
    decisions,
    outcomes,
    retention_marks,
    visits,
)

__all__ = ["ERASE_ACTION", "PrivacyStore", "erasure_digest", "scrub_cues", "scrub_reasons"]

ERASE_ACTION = "customer.erase"
_CHUNK = 500  # rows per transaction, and ids per IN list (under every database's limit)
_VISIT_MARK_WIDTH = 20  # visit ids are zero-padded in the mark, so marks compare as text


def erasure_digest(customer_id: str, salt: str) -> str:
    """The audit log's name for an erased id: SHA-256 of the salt and the id, in hex."""
    return hashlib.sha256(f"{salt}{customer_id}".encode()).hexdigest()


def scrub_cues(cues: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Cues without their texts (replaced by their codes); codes and perks stay."""
    return [{**cue, "text": cue.get("code")} for cue in cues]


def scrub_reasons(reasons: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Reasons without the customer's values (the text becomes the feature's name)."""
    return [{**r, "value": None, "text": r.get("feature")} for r in reasons]


_SCRUB_DECISION = (
    sa.update(decisions)
    .where(decisions.c.id == sa.bindparam("b_id"))
    .values(
        cues=sa.bindparam("b_cues", type_=decisions.c.cues.type),
        reasons=sa.bindparam("b_reasons", type_=decisions.c.reasons.type),
        signals=sa.null(),
    )
)
_SCRUBBED_VISIT = {"source": None, "override_reason": None}


class PrivacyStore(StorePart):
    """Erasure of a customer and retention of decision and visit signals."""

    def erase_customer(
        self, customer_id: str, *, actor: str, detail: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Delete the profiles (the chain's and every site's) and scrub the customer's
        decisions, visits and outcomes (see the module's docstring), audited as ``actor`` with ``detail``; one transaction.

        Returns what was erased: ``{"profile", "decisions", "visits", "outcomes"}``.
        Raises NotFound when nothing names the id (unknown, or erased already).
        """
        with self._db.write() as conn:
            profile = conn.execute(sa.delete(customers).where(customers.c.id == customer_id))
            ids = set(
                conn.scalars(
                    sa.select(decisions.c.id).where(decisions.c.customer_id == customer_id)
                )
            )
            ids.update(
                conn.scalars(
                    sa.select(visits.c.decision_id).where(visits.c.customer_id == customer_id)
                )
            )
            if profile.rowcount == 0 and not ids:
                raise NotFound(
                    f"No profile, decision or visit names customer '{customer_id}': it is "
                    "unknown or was erased already"
                )
            counts = {
                "profile": profile.rowcount > 0,
                **self._scrub_customer(conn, customer_id, ids),
            }
            salt = secrets.token_hex(16)
            conn.execute(
                sa.insert(audit).values(
                    at=self._now(),
                    actor=actor,
                    action=ERASE_ACTION,
                    subject=erasure_digest(customer_id, salt),
                    detail={**(detail or {}), "salt": salt, **counts},
                )
            )
        return counts

    def _scrub_customer(
        self, conn: sa.Connection, customer_id: str, decision_ids: set[str]
    ) -> dict[str, int]:
        visit_ids = set(
            conn.scalars(sa.select(visits.c.id).where(visits.c.customer_id == customer_id))
        )
        outcome_count = 0
        for chunk in _chunks(sorted(decision_ids)):
            rows = conn.execute(
                sa.select(decisions.c.id, decisions.c.cues, decisions.c.reasons).where(
                    decisions.c.id.in_(chunk)
                )
            ).all()
            _scrub_decisions(conn, rows)
            conn.execute(
                sa.update(decisions).where(decisions.c.id.in_(chunk)).values(customer_id=None)
            )
            # A visit of these decisions may have checked in under no id.
            visit_ids.update(
                conn.scalars(sa.select(visits.c.id).where(visits.c.decision_id.in_(chunk)))
            )
            outcome_count += conn.execute(
                sa.update(outcomes).where(outcomes.c.decision_id.in_(chunk)).values(note=None)
            ).rowcount
        for chunk in _chunks(sorted(visit_ids)):
            conn.execute(
                sa.update(visits)
                .where(visits.c.id.in_(chunk))
                .values(customer_id=None, **_SCRUBBED_VISIT)
            )
            _scrub_override_cues(conn, chunk)
        return {"decisions": len(decision_ids), "visits": len(visit_ids), "outcomes": outcome_count}

    def prune_signals(self, *, older_than: datetime) -> dict[str, int]:
        """Scrub the signals of decisions made and visits opened before ``older_than``
        (figures and customer ids stay); returns how many rows of each were scrubbed."""
        counts = {"decisions": 0, "visits": 0}
        while (n := self._prune_chunk(decisions, decisions.c.created_at, older_than)) > 0:
            counts["decisions"] += n
        while (n := self._prune_chunk(visits, visits.c.opened_at, older_than)) > 0:
            counts["visits"] += n
        return counts

    def _prune_chunk(self, table: sa.Table, time: sa.Column[Any], older_than: datetime) -> int:
        """Scrub the next old rows after the table's mark; 0 when none is left."""
        is_visits = table is visits
        columns = [table.c.id, time] + ([] if is_visits else [table.c.cues, table.c.reasons])
        with self._db.write() as conn:
            mark = conn.scalar(
                sa.select(retention_marks.c.through).where(retention_marks.c.name == table.name)
            )
            query = sa.select(*columns).order_by(table.c.id).limit(_CHUNK)
            if mark is not None:
                query = query.where(table.c.id > (int(mark) if is_visits else mark))
            rows = []
            for row in conn.execute(query):
                if row[1] >= older_than:  # the rest are newer: primary keys follow time
                    break
                rows.append(row)
            if not rows:
                return 0
            if is_visits:
                conn.execute(
                    sa.update(visits)
                    .where(visits.c.id.in_([r.id for r in rows]))
                    .values(**_SCRUBBED_VISIT)
                )
                _scrub_override_cues(conn, [r.id for r in rows])
                through = str(rows[-1].id).zfill(_VISIT_MARK_WIDTH)
            else:
                _scrub_decisions(conn, rows)
                through = rows[-1].id
            stmt = self._db.insert(retention_marks).values(name=table.name, through=through)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[retention_marks.c.name],
                    set_={"through": stmt.excluded.through},
                    # Two servers pruning at once: the mark never moves back.
                    where=retention_marks.c.through < stmt.excluded.through,
                )
            )
        return len(rows)


def _scrub_decisions(conn: sa.Connection, rows: Sequence[Any]) -> None:
    if rows:
        conn.execute(
            _SCRUB_DECISION,
            [
                {"b_id": r.id, "b_cues": scrub_cues(r.cues), "b_reasons": scrub_reasons(r.reasons)}
                for r in rows
            ],
        )


def _scrub_override_cues(conn: sa.Connection, visit_ids: Sequence[Any]) -> None:
    """An override's cues are picked from the customer's signals too (a car-brand dessert)."""
    rows = conn.execute(
        sa.select(visits.c.id, visits.c.override_cues).where(
            visits.c.id.in_(visit_ids), visits.c.override_cues.is_not(None)
        )
    ).all()
    for row in rows:
        if not row.override_cues:  # JSON null
            continue
        conn.execute(
            sa.update(visits)
            .where(visits.c.id == row.id)
            .values(override_cues=scrub_cues(row.override_cues))
        )


def _chunks(items: Sequence[Any]) -> list[Sequence[Any]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]
