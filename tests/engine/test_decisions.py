"""engine.decisions: profile + signals -> tier, cues within stock and budget, stored decision."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.conftest import VIP, Trained
from tierline.engine.decisions import Fallback, decide, decide_many
from tierline.engine.errors import NotFound
from tierline.engine.playbook import Perk, Playbook
from tierline.engine.registry import Registry
from tierline.engine.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store.open(f"sqlite:///{tmp_path / 'tl.db'}") as s:
        yield s


def test_request_signals_override_the_stored_profile(trained: Trained, store: Store) -> None:
    """A known customer's profile is merged with the request; the request wins, and it is stored."""
    model = Registry(trained.models).load()
    store.sync_perks(model.playbook.perks)
    store.upsert_customer("00000042", {"student_verified": True, "visits_90d": 1}, scope="")
    fallback = Fallback(default_tier="standard", playbook=model.playbook)
    d = decide(store=store, model=model, fallback=fallback, site="s1", customer_id="00000042")
    assert d["tier"] == "student" and d["reasons"][0]["text"] == "rule: verified student"
    d = decide(
        store=store,
        model=model,
        fallback=fallback,
        site="s1",
        customer_id="00000042",
        signals={"student_verified": False},
    )
    assert d["tier"] != "student" or d["reasons"][0]["feature"] != "rule"
    stored = store.get_decision(d["decision_id"])
    assert stored is not None and stored["tier"] == d["tier"] and stored["site"] == "s1"


def test_unknown_customer_without_signals_is_not_found(trained: Trained, store: Store) -> None:
    """An id the store does not know, with no signals, cannot be scored."""
    model = Registry(trained.models).load()
    with pytest.raises(NotFound, match="Unknown customer 'nobody'"):
        decide(
            store=store,
            model=model,
            fallback=Fallback("standard", model.playbook),
            site="s",
            customer_id="nobody",
        )


def test_out_of_stock_perk_is_replaced_by_the_next_cue(trained: Trained, store: Store) -> None:
    """When the coffee runs out, the VIP cue list moves up instead of promising it."""
    model = Registry(trained.models).load()
    perks = dict(model.playbook.perks)
    perks["coffee"] = Perk(name="coffee", cost=2.5, stock=1, daily_budget=None)
    store.sync_perks(perks)
    fallback = Fallback(default_tier="standard", playbook=model.playbook)
    day = dt.date(2026, 11, 26)
    codes = []
    for _ in range(2):
        d = decide(store=store, model=model, fallback=fallback, site="s", signals=VIP, today=day)
        assert d["tier"] == "vip", d
        codes.append([c["code"] for c in d["cues"]])
    assert "welcome_coffee" in codes[0]
    assert "welcome_coffee" not in codes[1] and "car_dessert" in codes[1]


def test_no_model_answers_degraded_with_the_default_tier(store: Store) -> None:
    """Without a loadable model decisions still answer: default tier, its cues, degraded."""
    playbook = Playbook.default(tiers=["vip", "standard", "student"])
    store.sync_perks(playbook.perks)
    [d] = decide_many(
        store=store,
        model=None,
        fallback=Fallback("standard", playbook),
        site="s",
        requests=[(None, {"x": 1})],
    )
    assert d["degraded"] and d["tier"] == "standard" and d["model_version"] is None
    assert [c["code"] for c in d["cues"]] == ["serve_in_order", "mention_loyalty"]


def test_a_perk_with_stock_100_is_issued_exactly_100_times_under_concurrency(
    trained: Trained, store: Store
) -> None:
    """1,000 concurrent VIP decisions: coffee (stock 100) issued exactly 100 times, the brand
    dessert exactly as often as its daily budget allows (120 / 4.0 = 30), nobody left without a cue."""
    from concurrent.futures import ThreadPoolExecutor

    model = Registry(trained.models).load()
    perks = dict(model.playbook.perks)
    perks["coffee"] = Perk(name="coffee", cost=0.0, stock=100, daily_budget=None)
    store.sync_perks(perks)
    fallback = Fallback(default_tier="standard", playbook=model.playbook)
    day = dt.date(2026, 11, 26)

    def one(i: int) -> list[str]:
        d = decide(
            store=store,
            model=model,
            fallback=fallback,
            site="s",
            signals=VIP,
            explain=False,
            today=day,
        )
        assert d["tier"] == "vip"
        return [c["code"] for c in d["cues"]]

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(one, range(1000)))
    assert sum("welcome_coffee" in codes for codes in results) == 100
    assert sum("car_dessert" in codes for codes in results) == 30
    assert all(codes and codes[0] == "seat_fast" for codes in results)
