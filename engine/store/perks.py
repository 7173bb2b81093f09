"""Perks: stock and daily budget, issued exactly once each under any concurrency, and only
in the transaction that stores the decision or visit promising them.

A decision that may show a perk cue reaches the store with a ``CuePick``: the store asks
it for the cues inside the write transaction, and each perk cue it asks for is taken
there (``take_in``): a conditional ``UPDATE perks SET stock = stock - 1 WHERE stock > 0``
(PostgreSQL re-checks the condition after waiting for a concurrent updater's row lock;
SQLite holds the database write lock from ``BEGIN IMMEDIATE``), then a conditional upsert
of the day's usage that only applies while the budget allows. A refused take leaves
nothing behind, so the pick moves on to the next cue; a failed write rolls the takes
back with the rows that promised them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa

from tierline.engine.errors import NotFound, TierlineError
from tierline.engine.store.database import StorePart
from tierline.engine.store.raw import RawCursor
from tierline.engine.store.schema import audit, perk_usage, perks

if TYPE_CHECKING:  # the playbook module brings pandas, which the store does not need
    from tierline.engine.playbook import Perk

__all__ = [
    "KEEP",
    "MAX_STOCK",
    "CuePick",
    "PerkStore",
    "Take",
    "lock_perks",
    "pick_cues",
    "put_back",
    "repick_in",
    "take_in",
]

MAX_STOCK = 1_000_000_000  # well inside the column's 32-bit integer

KEEP: Any = object()
"""``set_perk(daily_budget=KEEP)``: leave the budget as it is."""

# Money is a float here; sums such as 0.1 + 0.2 may land a hair above a budget they fit.
_MONEY_EPSILON = 1e-9

Take = Callable[[str, date], bool]
"""``take(perk, day)``: issue one unit of ``perk`` against ``day``'s budget; False if it
is out of stock or over budget."""


class CuePick(Protocol):
    """Picks a decision's cues while its row is written, taking each perk cue it shows."""

    @property
    def perks(self) -> Collection[str]:
        """Every perk the pick may ask for (locked up front, in one order)."""

    def __call__(self, take: Take) -> list[dict[str, Any]]:
        """The cues, JSON-ready; a perk cue is shown only if ``take`` issued it."""


def take_in(cur: RawCursor, name: str, day: date) -> bool:
    """Issue one unit of perk ``name`` in the caller's write transaction, if it is in stock
    and within ``day``'s budget; False (and nothing changed) otherwise."""
    taken = cur.run(cur.sql.take_stock, {"name": name}).fetchone()
    if taken is None:
        if cur.run(cur.sql.perk_exists, {"name": name}).fetchone() is None:
            raise NotFound(f"Perk '{name}' is not in the store; sync the playbook first")
        return False  # out of stock
    cost, budget = taken
    if budget is None:
        cur.run(cur.sql.use_unlimited, {"name": name, "day": cur.day(day), "cost": cost}).fetchone()
        return True
    used = cost <= budget + _MONEY_EPSILON and (
        cur.run(
            cur.sql.use_within_budget,
            {"name": name, "day": cur.day(day), "cost": cost, "budget": budget + _MONEY_EPSILON},
        ).fetchone()
        is not None
    )
    if not used:  # over budget: the unit goes back (this transaction holds the row)
        cur.run(cur.sql.put_back, {"name": name})
    return used


def put_back(cur: RawCursor, name: str, day: date) -> None:
    """Return one issued unit of ``name`` to its stock and to ``day``'s budget."""
    cur.run(cur.sql.put_back, {"name": name})
    cur.run(cur.sql.unuse, {"name": name, "day": cur.day(day)})


def lock_perks(cur: RawCursor, names: Iterable[str]) -> None:
    """Lock the rows of ``names`` in name order before any is taken, so that two
    transactions taking the same perks in different cue orders queue instead of
    deadlocking (PostgreSQL; SQLite's write lock already admits one writer)."""
    ordered = sorted(set(names))
    if cur.sql.lock_perks is None or not ordered:
        return
    cur.run(cur.sql.lock_perks, {"names": ordered}).fetchall()


def pick_cues(cur: RawCursor, items: Sequence[Mapping[str, Any]]) -> list[Any]:
    """Each item's cues: its ``pick_cues`` (a ``CuePick``) asked here, taking perks in
    ``cur``'s transaction, else its ``cues`` as given."""
    picks: list[CuePick | None] = [item.get("pick_cues") for item in items]
    wanted = [p.perks for p in picks if p is not None]
    if not wanted:
        return [item["cues"] for item in items]
    lock_perks(cur, (name for names in wanted for name in names))

    def take(name: str, day: date) -> bool:
        return take_in(cur, name, day)

    return [
        item["cues"] if pick is None else pick(take)
        for item, pick in zip(items, picks, strict=True)
    ]


def repick_in(cur: RawCursor, pick: CuePick, *, held: Sequence[str], held_day: date) -> list[Any]:
    """``pick``'s cues in place of cues holding the perks ``held`` (issued on ``held_day``),
    in ``cur``'s transaction: a held perk shown again is kept rather than taken twice, a
    new one is taken, and a held one no longer shown goes back to stock and budget."""
    lock_perks(cur, [*pick.perks, *held])
    left = Counter(held)

    def take(name: str, day: date) -> bool:
        if left[name] > 0:
            left[name] -= 1
            return True
        return take_in(cur, name, day)

    cues = pick(take)
    for name, count in left.items():
        for _ in range(count):
            put_back(cur, name, held_day)
    return cues


class PerkStore(StorePart):
    """Perk stock, budgets and usage.

    A perk's stock counts down as decisions take it, so a sync of the playbook (at every
    start and model swap) must not refill it. The rule: a sync sets stock and daily budget
    from the playbook when the perk is new, or when the playbook now declares a different
    value than the last one recorded (``declared_stock``, ``declared_budget``); otherwise it
    keeps them, restocks by an admin (``set_perk``) included. Cost always follows the
    playbook. The fallback's playbook only adds perks the store lacks, so a model's
    declaration is not undone by the fallback's at the next start.
    """

    def sync_perks(self, playbook_perks: Mapping[str, Perk], *, declare: bool = True) -> None:
        """Add the playbook's new perks; for known ones update cost, and stock or budget
        where the declaration changed (the class's rule). ``declare=False`` (the fallback)
        adds new perks only."""
        if not playbook_perks:
            return
        now = self._now()
        rows = [
            {
                "name": p.name,
                "cost": p.cost,
                "stock": p.stock,
                "daily_budget": p.daily_budget,
                "declared_stock": p.stock,
                "declared_budget": p.daily_budget,
                "declared_at": now,
            }
            for p in playbook_perks.values()
        ]
        stmt = self._db.insert(perks)
        if declare:
            stmt = stmt.on_conflict_do_update(
                index_elements=[perks.c.name], set_=_declared_update(stmt.excluded)
            )
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=[perks.c.name])
        with self._db.write() as conn:
            conn.execute(stmt, rows)

    def set_perk(
        self, name: str, *, stock: int, daily_budget: float | object | None = KEEP, actor: str
    ) -> dict[str, Any]:
        """Restock ``name`` to ``stock`` units (and set its daily budget unless ``KEEP``;
        None: no budget), audited in the same transaction; returns the perk as now stored.
        A later sync keeps these until the playbook declares other values."""
        change: dict[str, Any] = {"stock": _valid_stock(stock)}
        if daily_budget is not KEEP:
            change["daily_budget"] = _valid_budget(daily_budget)
        with self._db.write() as conn:
            before = conn.execute(
                sa.select(perks).where(perks.c.name == name).with_for_update()
            ).first()
            if before is None:
                known = conn.execute(sa.select(perks.c.name).order_by(perks.c.name)).scalars()
                raise NotFound(
                    f"No perk named '{name}'; known perks: {', '.join(known) or 'none'} "
                    "(a playbook's perks reach the store when a server or the demo starts)"
                )
            conn.execute(sa.update(perks).where(perks.c.name == name).values(change))
            detail = {k: {"from": before._mapping[k], "to": v} for k, v in change.items()}
            conn.execute(
                sa.insert(audit).values(
                    at=self._now(), actor=actor, action="perk_set", subject=name, detail=detail
                )
            )
            row = conn.execute(sa.select(perks).where(perks.c.name == name)).one()
        return dict(row._mapping)

    def take_perk(self, name: str, *, day: date) -> bool:
        """Issue one unit if it is in stock and within ``day``'s budget; False otherwise.
        On its own: a decision takes its perks in the transaction that stores it."""
        # Not durable, as the decisions that take perks are not (engine.store.database).
        with self._db.raw.transaction(write=True, durable=False) as cur:
            return take_in(cur, name, day)

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


def _declared_update(excluded: Any) -> dict[str, Any]:
    """The upsert's SET for a perk already stored: the class's sync rule."""
    undeclared = perks.c.declared_at.is_(None)  # a row from before migration 0007
    stock_changed = sa.and_(
        ~undeclared, perks.c.declared_stock.is_distinct_from(excluded.declared_stock)
    )
    budget_changed = sa.and_(
        ~undeclared, perks.c.declared_budget.is_distinct_from(excluded.declared_budget)
    )
    return {
        "cost": excluded.cost,
        "stock": sa.case((stock_changed, excluded.stock), else_=perks.c.stock),
        "daily_budget": sa.case(
            (budget_changed, excluded.daily_budget), else_=perks.c.daily_budget
        ),
        "declared_stock": excluded.declared_stock,
        "declared_budget": excluded.declared_budget,
        "declared_at": sa.case(
            (sa.or_(undeclared, stock_changed, budget_changed), excluded.declared_at),
            else_=perks.c.declared_at,
        ),
    }


def _valid_stock(stock: object) -> int:
    if isinstance(stock, bool) or not isinstance(stock, int) or not 0 <= stock <= MAX_STOCK:
        raise TierlineError(f"Stock {stock!r} is not a whole number of units from 0 to {MAX_STOCK}")
    return stock


def _valid_budget(budget: object) -> float | None:
    if budget is None:
        return None
    if (
        isinstance(budget, bool)
        or not isinstance(budget, int | float)
        or not math.isfinite(budget)
        or budget < 0
    ):
        raise TierlineError(f"Daily budget {budget!r} is not an amount of money, 0 or more")
    return float(budget)
