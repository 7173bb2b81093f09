"""Perks: stock and daily budget, issued exactly once each under any concurrency.

``take_perk`` is one write transaction: a conditional ``UPDATE perks SET stock = stock - 1
WHERE stock > 0`` (PostgreSQL re-checks the condition after waiting for a concurrent
updater's row lock; SQLite holds the database write lock from ``BEGIN IMMEDIATE``), then a
conditional upsert of the day's usage that only applies while the budget allows. If either
finds nothing to do, the transaction rolls back and the perk is not issued.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from engine.errors import NotFound
from engine.store.database import StorePart
from engine.store.schema import perk_usage, perks

if TYPE_CHECKING:  # the playbook module brings pandas, which the store does not need
    from engine.playbook import Perk

__all__ = ["PerkStore"]

# Money is a float here; sums such as 0.1 + 0.2 may land a hair above a budget they fit.
_MONEY_EPSILON = 1e-9


# NULL stock is unlimited and stays NULL.
_TAKE_STOCK = (
    "UPDATE perks SET stock = stock - 1 WHERE name = ? AND (stock IS NULL OR stock > 0) "
    "RETURNING cost, daily_budget"
)
# The day's usage; with a budget it grows only while the budget allows, and no row back
# means the budget is spent.
_USE = (
    "INSERT INTO perk_usage (perk, day, issued, spent) VALUES (?, ?, 1, ?) "
    "ON CONFLICT (perk, day) DO UPDATE SET issued = perk_usage.issued + 1, "
    "spent = perk_usage.spent + ? "
)
_USE_UNLIMITED = _USE + "RETURNING issued"
_USE_WITHIN_BUDGET = _USE + "WHERE perk_usage.spent + ? <= ? RETURNING issued"


class _Refused(Exception):
    """Roll the perk's transaction back: it is not issued."""


class PerkStore(StorePart):
    """Perk stock, budgets and usage."""

    def sync_perks(self, playbook_perks: Mapping[str, Perk]) -> None:
        """Add the playbook's new perks; update cost and budget of known ones, keeping stock."""
        if not playbook_perks:
            return
        rows = [
            {"name": p.name, "cost": p.cost, "stock": p.stock, "daily_budget": p.daily_budget}
            for p in playbook_perks.values()
        ]
        stmt = self._db.insert(perks)
        stmt = stmt.on_conflict_do_update(
            index_elements=[perks.c.name],
            set_={"cost": stmt.excluded.cost, "daily_budget": stmt.excluded.daily_budget},
        )
        with self._db.write() as conn:
            conn.execute(stmt, rows)

    def take_perk(self, name: str, *, day: date) -> bool:
        """Issue one unit if it is in stock and within ``day``'s budget; False otherwise."""
        # Asked for every perk cue of every decision: raw statements (engine.store.raw).
        # Not durable, as the decision that shows the perk is not: on SQLite a durable take
        # waited for an fsync on the event loop (measured: a median of 357 us and a p99 of
        # 1.6 ms a take, against 48 and 101 us), stalling every request of the worker. A
        # power cut loses the last takes with the last decisions; a crash loses neither.
        try:
            with self._db.raw.transaction(write=True, durable=False) as cur:
                taken = cur.execute(_TAKE_STOCK, (name,)).fetchone()
                if taken is None:
                    known = cur.execute("SELECT 1 FROM perks WHERE name = ?", (name,)).fetchone()
                    if known is None:
                        raise NotFound(
                            f"Perk '{name}' is not in the store; sync the playbook first"
                        )
                    raise _Refused  # out of stock
                cost, budget = taken
                if budget is None:
                    cur.execute(_USE_UNLIMITED, (name, cur.day(day), cost, cost)).fetchone()
                    return True
                if cost > budget + _MONEY_EPSILON:
                    raise _Refused
                used = cur.execute(
                    _USE_WITHIN_BUDGET,
                    (name, cur.day(day), cost, cost, cost, budget + _MONEY_EPSILON),
                ).fetchone()
                if used is None:
                    raise _Refused  # over budget: the rollback puts the unit back
        except _Refused:
            return False
        return True

    def list_perks(self, *, day: date) -> list[dict[str, Any]]:
        """Every perk with its stock left and ``day``'s issued count and spend."""
        usage = perk_usage.alias("u")
        query = (
            sa.select(
                perks,
                sa.func.coalesce(usage.c.issued, 0).label("issued"),
                sa.func.coalesce(usage.c.spent, 0.0).label("spent"),
            )
            .select_from(
                perks.outerjoin(usage, sa.and_(usage.c.perk == perks.c.name, usage.c.day == day))
            )
            .order_by(perks.c.name)
        )
        with self._db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]
