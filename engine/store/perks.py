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
from typing import Any

import sqlalchemy as sa

from engine.errors import NotFound
from engine.playbook import Perk
from engine.store.database import StorePart
from engine.store.schema import perk_usage, perks

__all__ = ["PerkStore"]

# Money is a float here; sums such as 0.1 + 0.2 may land a hair above a budget they fit.
_MONEY_EPSILON = 1e-9


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
        with self._db.write() as conn:
            taken = conn.execute(
                sa.update(perks)
                .where(perks.c.name == name, sa.or_(perks.c.stock.is_(None), perks.c.stock > 0))
                .values(stock=perks.c.stock - 1)  # NULL (unlimited) stays NULL
                .returning(perks.c.cost, perks.c.daily_budget)
            ).first()
            if taken is None:
                if conn.scalar(sa.select(perks.c.name).where(perks.c.name == name)) is None:
                    raise NotFound(f"Perk '{name}' is not in the store; sync the playbook first")
                return False
            cost, budget = taken
            if budget is not None and cost > budget + _MONEY_EPSILON:
                conn.rollback()
                return False
            stmt = self._db.insert(perk_usage).values(perk=name, day=day, issued=1, spent=cost)
            stmt = stmt.on_conflict_do_update(
                index_elements=[perk_usage.c.perk, perk_usage.c.day],
                set_={"issued": perk_usage.c.issued + 1, "spent": perk_usage.c.spent + cost},
                where=(
                    None if budget is None else perk_usage.c.spent + cost <= budget + _MONEY_EPSILON
                ),
            )
            if conn.execute(stmt.returning(perk_usage.c.issued)).first() is None:
                conn.rollback()  # over budget: put the unit back
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
