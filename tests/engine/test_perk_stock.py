"""When a playbook sync sets a perk's stock and budget, and an admin's restock, on SQLite and
PostgreSQL: a model's declaration wins over the fallback's, a restart never refills a used
stock, a changed declaration applies once, and a restock is audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from tierline.engine.errors import NotFound, TierlineError
from tierline.engine.playbook import Perk
from tierline.engine.store import Store
from tierline.engine.store.perks import KEEP

DAY = dt.date(2026, 11, 26)

FALLBACK = {"coffee": Perk(name="coffee", cost=2.5, stock=500, daily_budget=150.0)}


def _model(stock: int | None, budget: float | None = 150.0) -> dict[str, Perk]:
    return {"coffee": Perk(name="coffee", cost=2.5, stock=stock, daily_budget=budget)}


def _start(store: Store, model: dict[str, Perk]) -> None:
    """What a server does at start: the fallback's perks, then the model's playbook."""
    store.sync_perks(FALLBACK, declare=False)
    store.sync_perks(model)


def _coffee(store: Store) -> tuple[int | None, float | None]:
    (coffee,) = store.list_perks(day=DAY)
    return coffee["stock"], coffee["daily_budget"]


def test_the_models_stock_wins_over_the_fallbacks_on_a_fresh_store(store: Store) -> None:
    """A perk named like a default perk gets the model playbook's stock and budget, not the
    fallback's synced before it."""
    _start(store, _model(100, 40.0))
    assert _coffee(store) == (100, 40.0)


def test_a_restart_keeps_a_used_stock(store: Store) -> None:
    """Starting again with the same playbook neither refills the stock nor resets it to the
    fallback's."""
    _start(store, _model(100))
    for _ in range(3):
        assert store.take_perk("coffee", day=DAY)
    _start(store, _model(100))
    assert _coffee(store) == (97, 150.0)


def test_an_unlimited_declaration_applies_over_the_fallbacks(store: Store) -> None:
    """A model declaring no stock limit and no budget gets them, though the fallback
    declared both."""
    _start(store, _model(None, None))
    assert _coffee(store) == (None, None)
    _start(store, _model(None, None))
    assert _coffee(store) == (None, None)


def test_a_changed_declaration_applies_once(store: Store) -> None:
    """A playbook declaring another stock sets it (the budget, declared as before, stays);
    syncing that playbook again keeps the count."""
    _start(store, _model(100))
    store.set_perk("coffee", stock=100, daily_budget=90.0, actor="admin")
    assert store.take_perk("coffee", day=DAY)
    _start(store, _model(200))
    assert _coffee(store) == (200, 90.0)
    assert store.take_perk("coffee", day=DAY)
    _start(store, _model(200))
    assert _coffee(store) == (199, 90.0)


def test_a_restock_survives_a_restart_and_is_audited(store: Store) -> None:
    """An admin's stock and budget stay through a sync of the unchanged playbook, and the
    audit log says who changed what from what."""
    _start(store, _model(100))
    assert store.take_perk("coffee", day=DAY)
    perk = store.set_perk("coffee", stock=40, daily_budget=10.0, actor="k1")
    assert (perk["stock"], perk["daily_budget"], perk["declared_stock"]) == (40, 10.0, 100)
    store.set_perk("coffee", stock=41, actor="k2")
    _start(store, _model(100))
    assert _coffee(store) == (41, 10.0)
    first, second = store.audit_log()[1], store.audit_log()[0]
    assert (first["actor"], first["action"], first["subject"]) == ("k1", "perk_set", "coffee")
    assert first["detail"] == {
        "stock": {"from": 99, "to": 40},
        "daily_budget": {"from": 150.0, "to": 10.0},
    }
    assert second["detail"] == {"stock": {"from": 40, "to": 41}}


@pytest.mark.parametrize(
    ("name", "stock", "budget", "error", "message"),
    [
        ("caviar", 5, KEEP, NotFound, "known perks: coffee"),
        ("coffee", -1, KEEP, TierlineError, "whole number"),
        ("coffee", 2**40, KEEP, TierlineError, "whole number"),
        ("coffee", 5, float("nan"), TierlineError, "amount of money"),
        ("coffee", 5, -2.0, TierlineError, "amount of money"),
    ],
)
def test_a_refused_restock_changes_nothing(
    store: Store, name: str, stock: int, budget: Any, error: type[Exception], message: str
) -> None:
    """An unknown perk or a bad stock or budget is refused with a message; stock, budget
    and the audit log are as before."""
    _start(store, _model(100))
    with pytest.raises(error, match=message):
        store.set_perk(name, stock=stock, daily_budget=budget, actor="k")
    assert _coffee(store) == (100, 150.0)
    assert store.audit_log() == []


def test_a_perk_from_before_the_migration_keeps_its_stock(
    store: Store, raw: Callable[[str], list[Any]]
) -> None:
    """A row with no declaration on record keeps its stock and budget at the first sync,
    which records the declaration; a later change of declaration applies."""
    _start(store, _model(500))
    raw(
        "UPDATE perks SET stock = 437, declared_stock = NULL, declared_budget = NULL, "
        "declared_at = NULL"
    )
    _start(store, _model(100, 20.0))
    assert _coffee(store) == (437, 150.0)
    _start(store, _model(100, 20.0))
    assert _coffee(store) == (437, 150.0)
    _start(store, _model(90, 20.0))
    assert _coffee(store) == (90, 150.0)
