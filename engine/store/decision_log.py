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
        ``score``, ``model_version``, ``holdout``, ``perks`` (the perks its cues took) and
        ``signals`` (a dict; None when retention or erasure cleared them or the decision
        predates the log)."""
        for columns in self.logged_columns(since=since, until=until, page=page):
            names = list(columns)
            yield [
                dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)
            ]

    def logged_columns(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        site: str | None = None,
        page: int = _PAGE,
    ) -> Iterator[dict[str, list[Any]]]:
        """``logged_decisions`` a page at a time as columns (name -> values), for readers
        that build tables: no dict per row. With ``site``, that site's decisions only."""
        after = ""
        while True:
            with self._db.raw.transaction(write=False, durable=True) as cur:
                where, params = _window(
                    cur, "", after=("id", after), site=site, since=since, until=until
                )
                sql = f"SELECT {_COLUMNS} FROM decisions WHERE {' AND '.join(where)}"
                rows = cur.execute(f"{sql} ORDER BY id LIMIT ?", (*params, page)).fetchall()
                if not rows:
                    return
                (ids, customers, sites, times, tiers, scores, versions, holdouts, cues, signals) = (
                    list(c) for c in zip(*rows, strict=True)
                )
                present = [i for i, s in enumerate(signals) if s is not None]
                for i, decoded in zip(
                    present, cur.load_json_many([signals[i] for i in present]), strict=True
                ):
                    signals[i] = decoded
                columns = {
                    "decision_id": ids,
                    "customer_id": customers,
                    "site": sites,
                    "decided_at": [cur.load_time(t) for t in times],
                    "tier": tiers,
                    "score": scores,
                    "model_version": versions,
                    "holdout": [bool(h) for h in holdouts],
                    "perks": [
                        [c["perk"] for c in taken if c.get("perk")]
                        for taken in cur.load_json_many(cues)
                    ],
                    "signals": signals,
                }
            yield columns
            if len(rows) < page:
                return
            after = ids[-1]

    def decision_results(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        site: str | None = None,
        page: int = _PAGE,
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of what the decisions made in the window (at ``site``, if given) led to,
        one row per outcome and per visit: ``decision_id``, ``source`` ("outcome" or
        "visit"), ``spend``, ``converted`` (outcomes only) and ``closed`` (False for a
        visit still open)."""
        for source, (id_column, select) in _RESULTS.items():
            after: Any = "" if source == "outcome" else -1
            while True:
                with self._db.raw.transaction(write=False, durable=True) as cur:
                    where, params = _window(
                        cur, "d.", after=(id_column, after), site=site, since=since, until=until
                    )
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


def _window(
    cur: Any,
    table: str,
    *,
    after: tuple[str, Any],
    site: str | None,
    since: datetime | None,
    until: datetime | None,
) -> tuple[list[str], list[Any]]:
    """The WHERE terms of one keyset page of a window of decisions (``table``: the
    decisions' alias with its dot, or "")."""
    where, params = [f"{after[0]} > ?"], [after[1]]
    if site is not None:
        where.append(f"{table}site = ?")
        params.append(site)
    if since is not None:
        where.append(f"{table}created_at >= ?")
        params.append(cur.time(since))
    if until is not None:
        where.append(f"{table}created_at < ?")
        params.append(cur.time(until))
    return where, params
