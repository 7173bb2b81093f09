"""Reading the decision log back: each decision with the signals it was decided on.

Export (training from the store's own outcomes) and drift read it for a time window.
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
_COLUMNS = "id, customer_id, site, created_at, tier, model_version, holdout, cues, signals"


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
        ``model_version``, ``holdout``, ``perks`` (the perks its cues took) and ``signals``
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
                        "model_version": r[5],
                        "holdout": bool(r[6]),
                        "perks": [c["perk"] for c in cur.load_json(r[7]) if c.get("perk")],
                        "signals": None if r[8] is None else cur.load_json(r[8]),
                    }
                    for r in rows
                ]
            if not out:
                return
            yield out
            if len(out) < page:
                return
            after = out[-1]["decision_id"]
