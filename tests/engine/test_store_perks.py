"""The store's perks: stock and daily budget taken under concurrency, and the playbook's sync."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.engine.conftest import DAY, in_threads
from tierline.engine.errors import NotFound
from tierline.engine.playbook import Perk
from tierline.engine.store import Store


def test_take_perk_issues_exactly_the_stock_under_concurrency(store: Store) -> None:
    """1,000 concurrent takes of a perk with stock 100 from 16 threads issue exactly 100."""
    store.sync_perks({"coffee": Perk(name="coffee", cost=2.5, stock=100, daily_budget=None)})
    results = in_threads(lambda _: store.take_perk("coffee", day=DAY), 1000)
    assert results.count(True) == 100
    (coffee,) = store.list_perks(day=DAY)
    assert (coffee["stock"], coffee["issued"], coffee["spent"]) == (0, 100, 250.0)


def test_a_perk_is_taken_at_the_decisions_durability(store: Store, backend: str) -> None:
    """On SQLite a perk is issued at synchronous=NORMAL, as the decision that shows it: a
    FULL commit would wait for an fsync on the server's event loop."""
    store.sync_perks({"coffee": Perk(name="coffee", cost=2.5, stock=5, daily_budget=None)})
    assert store.take_perk("coffee", day=DAY) is True
    if backend == "sqlite":  # the thread's raw connection keeps the level of its last write
        with store._db.raw.transaction(write=False, durable=True) as cur:
            assert cur.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_take_perk_stays_within_the_daily_budget(store: Store) -> None:
    """An unlimited perk stops at its daily budget and is available again the next day."""
    store.sync_perks(
        {
            "dessert": Perk(name="dessert", cost=2.5, stock=None, daily_budget=10.0),
            "gold": Perk(name="gold", cost=50.0, stock=None, daily_budget=10.0),
        }
    )
    assert [store.take_perk("dessert", day=DAY) for _ in range(5)] == [True] * 4 + [False]
    assert store.take_perk("dessert", day=DAY + timedelta(days=1)) is True
    assert store.take_perk("gold", day=DAY) is False
    perks = {p["name"]: p for p in store.list_perks(day=DAY)}
    assert perks["dessert"]["spent"] == 10.0 and perks["dessert"]["stock"] is None
    assert perks["gold"]["issued"] == 0


def test_take_perk_budget_refusal_puts_the_unit_back(store: Store) -> None:
    """A take refused by the budget leaves the stock as it was."""
    store.sync_perks({"wine": Perk(name="wine", cost=6.0, stock=3, daily_budget=6.0)})
    assert store.take_perk("wine", day=DAY) is True
    assert store.take_perk("wine", day=DAY) is False
    assert store.list_perks(day=DAY)[0]["stock"] == 2


def test_sync_perks_updates_cost_and_keeps_an_undeclared_change_of_stock(store: Store) -> None:
    """Re-syncing the playbook changes cost, and stock and budget only where the playbook
    declares new values: the counted-down stock stays while its declaration does."""
    store.sync_perks({"coffee": Perk(name="coffee", cost=2.5, stock=10, daily_budget=None)})
    assert store.take_perk("coffee", day=DAY)
    store.sync_perks({"coffee": Perk(name="coffee", cost=3.0, stock=10, daily_budget=90.0)})
    (coffee,) = store.list_perks(day=DAY)
    assert (coffee["cost"], coffee["stock"], coffee["daily_budget"]) == (3.0, 9, 90.0)


def test_take_unknown_perk_is_not_found(store: Store) -> None:
    """Taking a perk the store was never told about is NotFound, not a silent no."""
    with pytest.raises(NotFound, match="sync the playbook"):
        store.take_perk("caviar", day=DAY)
