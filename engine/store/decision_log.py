"""Reading the decision log back: each decision with the signals it was decided on.

Export (training from the store's own outcomes) and drift read it for a time window;
export also reads what each decision led to (its outcomes and its visit).
Nothing indexes decisions by time (every decision would pay for it on its way in), so a
read walks the primary key and filters on the time; pages are read in short
transactions, each starting after the last id seen, so a long read never holds a
snapshot or SQLite's reader open for the whole export.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from tierline.engine.store.database import StorePart

__all__ = ["DecisionLogStore"]

_PAGE = 5000
_COLUMNS = "id, customer_id, site, created_at, tier, score, model_version, holdout, cues, signals"
# What a decision led to: its outcomes (POS and CRM) and the visit it opened (check-ins).
_RESULTS = {
    "outcome": (
        "o.id",
        "SELECT o.id, o.decision_id, o.spend, o.converted, 1 FROM outcomes o "
        "JOIN decisions d ON d.id = o.decision_id",
    ),
    "visit": (
        "v.id",
        "SELECT v.id, v.decision_id, v.spend, NULL, "
        "CASE WHEN v.closed_at IS NULL THEN 0 ELSE 1 END FROM visits v "
        "JOIN decisions d ON d.id = v.decision_id",
    ),
}


class DecisionLogStore(StorePart):
    """The decision log as data: what was decided, on which signals, when."""

    def logged_decisions(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        page: int = _PAGE,
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of decisions made at or after ``since`` and before ``until``, oldest first:
        ``decision_id``, ``customer_id``, ``site``, ``decided_at``, ``tier``,
        ``score``, ``model_version``, ``holdout``, ``perks`` (the perks its cues took) and ``signals``
        (a dict; None when retention or erasure cleared them or the decision predates
        the log)."""
        after = ""
        while True:
            with self._db.raw.transaction(write=False, durable=True) as cur:
                where, params = ["id > ?"], [after]
                if since is not None:
                    where.append("created_at >= ?")
                    params.append(cur.time(since))
                if until is not None:
                    where.append("created_at < ?")
                    params.append(cur.time(until))
                sql = f"SELECT {_COLUMNS} FROM decisions WHERE {' AND '.join(where)}"
                rows = cur.execute(f"{sql} ORDER BY id LIMIT ?", (*params, page)).fetchall()
                out = [
                    {
                        "decision_id": r[0],
                        "customer_id": r[1],
                        "site": r[2],
                        "decided_at": cur.load_time(r[3]),
                        "tier": r[4],
                        "score": r[5],
                        "model_version": r[6],
                        "holdout": bool(r[7]),
                        "perks": [c["perk"] for c in cur.load_json(r[8]) if c.get("perk")],
                        "signals": None if r[9] is None else cur.load_json(r[9]),
                    }
                    for r in rows
                ]
            if not out:
                return
            yield out
            if len(out) < page:
                return
            after = out[-1]["decision_id"]

    def decision_results(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        page: int = _PAGE,
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of what the decisions made in the window led to, one row per outcome and
        per visit: ``decision_id``, ``source`` ("outcome" or "visit"), ``spend``,
        ``converted`` (outcomes only) and ``closed`` (False for a visit still open)."""
        for source, (id_column, select) in _RESULTS.items():
            after: Any = "" if source == "outcome" else -1
            while True:
                with self._db.raw.transaction(write=False, durable=True) as cur:
                    where, params = [f"{id_column} > ?"], [after]
                    if since is not None:
                        where.append("d.created_at >= ?")
                        params.append(cur.time(since))
                    if until is not None:
                        where.append("d.created_at < ?")
                        params.append(cur.time(until))
                    sql = f"{select} WHERE {' AND '.join(where)} ORDER BY {id_column} LIMIT ?"
                    rows = cur.execute(sql, (*params, page)).fetchall()
                if not rows:
                    break
                yield [
                    {
                        "decision_id": r[1],
                        "source": source,
                        "spend": r[2],
                        "converted": None if r[3] is None else bool(r[3]),
                        "closed": bool(r[4]),
                    }
                    for r in rows
                ]
                if len(rows) < page:
                    break
                after = rows[-1][0]
