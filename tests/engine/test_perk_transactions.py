"""A perk and the decision (or visit) that promises it are one transaction, on SQLite and
PostgreSQL: a failed write takes no perk, and a perk that cannot be taken is not shown."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.conftest import VIP, Trained
from tierline.api.group_commit import DecisionWriter
from tierline.engine.decisions import (
    Fallback,
    check_in,
    decide,
    decide_many,
    override,
    prepare_many,
)
from tierline.engine.errors import Conflict, StoreError, TierlineError
from tierline.engine.model import TierModel
from tierline.engine.playbook import Perk
from tierline.engine.registry import Registry
from tierline.engine.store import Store

DAY = dt.date(2026, 11, 26)


# ``store``, ``url`` and ``raw`` (each database kind) come from tests/engine/conftest.py.


@pytest.fixture
def model(trained: Trained) -> TierModel:
    return Registry(trained.models).load()


def _stock(store: Store, model: TierModel, *, coffee: int, dessert: int = 60) -> Fallback:
    perks = dict(model.playbook.perks)
    perks["coffee"] = Perk(name="coffee", cost=2.5, stock=coffee, daily_budget=None)
    perks["brand_dessert"] = Perk(name="brand_dessert", cost=4.0, stock=dessert, daily_budget=120)
    store.sync_perks(perks)
    return Fallback(default_tier="standard", playbook=model.playbook)


def _perks(store: Store, day: dt.date = DAY) -> dict[str, tuple[int | None, int, float]]:
    """Each perk's (stock left, issued on ``day``, spent on ``day``)."""
    return {p["name"]: (p["stock"], p["issued"], p["spent"]) for p in store.list_perks(day=day)}


def _fail_decision_writes(raw: Callable[[str], list[Any]], url: str) -> None:
    """Make the database refuse every decision row, as a full disk would: the write fails
    at the database after the perks were taken in the same transaction."""
    if url.startswith("sqlite"):
        raw(
            "CREATE TRIGGER disk_full BEFORE INSERT ON decisions "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
        return
    raw(
        "CREATE FUNCTION disk_full() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION 'could not extend file: No space left on device' "
        "USING ERRCODE = 'disk_full'; END $$ LANGUAGE plpgsql"
    )
    raw(
        "CREATE TRIGGER disk_full BEFORE INSERT ON decisions FOR EACH ROW EXECUTE FUNCTION disk_full()"
    )


def test_a_failed_decision_write_takes_no_perk(
    store: Store, model: TierModel, raw: Callable[[str], list[Any]], url: str
) -> None:
    """When the database refuses the decision rows, stock and budget are as before."""
    fallback = _stock(store, model, coffee=10)
    before = _perks(store)
    _fail_decision_writes(raw, url)
    with pytest.raises(TierlineError) as raised:
        decide_many(
            store=store,
            model=model,
            fallback=fallback,
            site="s",
            requests=[(None, VIP)] * 3,
            today=DAY,
        )
    # On PostgreSQL a full disk is the store being unavailable; on SQLite the trigger's
    # abort is a refused row.
    assert isinstance(raised.value, StoreError if url.startswith("postgres") else Conflict)
    assert _perks(store) == before
    assert raw("SELECT COUNT(*) FROM decisions") == [(0,)]


def test_a_duplicate_decision_id_takes_no_perk(store: Store, model: TierModel) -> None:
    """A row refused by the primary key (a decision id stored already) leaves stock and
    budget untouched, and the refusal is a Conflict, not a driver error."""
    fallback = _stock(store, model, coffee=10)
    first = decide(store=store, model=model, fallback=fallback, site="s", signals=VIP, today=DAY)
    assert "welcome_coffee" in [c["code"] for c in first["cues"]]
    before = _perks(store)
    _, rows = prepare_many(
        store=store, model=model, fallback=fallback, site="s", requests=[(None, VIP)], today=DAY
    )
    rows[0]["decision_id"] = first["decision_id"]
    with pytest.raises(Conflict, match="decision id is stored once"):
        store.record_decisions(rows)
    assert _perks(store) == before


def test_1000_concurrent_decisions_issue_exactly_the_stock_and_store_it(
    store: Store, model: TierModel, raw: Callable[[str], list[Any]]
) -> None:
    """1,000 concurrent VIP decisions against a coffee stock of 100: exactly 100 answers
    and exactly 100 stored decisions carry the coffee, and the stock is spent."""
    fallback = _stock(store, model, coffee=100)

    def one(_: int) -> dict[str, Any]:
        return decide(
            store=store,
            model=model,
            fallback=fallback,
            site="s",
            signals=VIP,
            explain=False,
            today=DAY,
        )

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(one, range(1000)))
    with_coffee = {a["decision_id"] for a in answers if _has(a["cues"], "welcome_coffee")}
    assert len(with_coffee) == 100
    stored = {
        row[0]: row[1] for row in raw("SELECT id, cues FROM decisions")
    }  # JSON text on SQLite, decoded on PostgreSQL
    assert len(stored) == 1000
    assert {i for i, cues in stored.items() if "welcome_coffee" in str(cues)} == with_coffee
    stock, issued, _ = _perks(store)["coffee"]
    assert (stock, issued) == (0, 100)
    # The dessert's daily budget (120 / 4.0) binds before its stock of 60.
    assert _perks(store)["brand_dessert"][:2] == (30, 30)


def test_a_refused_perk_gives_its_place_and_the_answer_matches_the_row(
    store: Store, model: TierModel
) -> None:
    """A perk that runs out between scoring and the write is not shown: the next cue takes
    its place in the answer and in the stored row alike."""
    fallback = _stock(store, model, coffee=1)
    decisions, rows = prepare_many(
        store=store,
        model=model,
        fallback=fallback,
        site="s",
        requests=[(None, VIP), (None, VIP)],
        today=DAY,
    )
    assert all(_has(d["cues"], "welcome_coffee") for d in decisions)  # scored optimistically
    store.record_decisions(rows)
    assert [_has(d["cues"], "welcome_coffee") for d in decisions] == [True, False]
    for d in decisions:
        stored = store.get_decision(d["decision_id"])
        assert stored is not None and stored["cues"] == d["cues"]


def test_a_check_in_without_a_ticket_stores_no_decision_and_takes_no_perk(
    store: Store, model: TierModel, raw: Callable[[str], list[Any]]
) -> None:
    """The visit, the decision and its perks are one transaction: when no ticket is free
    the check-in stores nothing."""
    fallback = _stock(store, model, coffee=10)
    _, [row] = prepare_many(
        store=store, model=model, fallback=fallback, site="s", requests=[(None, VIP)], today=DAY
    )
    store.check_in(decision=row, ticket_range=(1, 1), party_size=2)
    before = _perks(store)
    assert before["coffee"][:2] == (9, 1)
    _, [second] = prepare_many(
        store=store, model=model, fallback=fallback, site="s", requests=[(None, VIP)], today=DAY
    )
    with pytest.raises(Conflict, match="in use"):
        store.check_in(decision=second, ticket_range=(1, 1), party_size=2)
    assert _perks(store) == before
    assert raw("SELECT COUNT(*) FROM decisions") == [(1,)]
    visit, decision = check_in(
        store=store, model=model, fallback=fallback, site="s", signals=VIP, today=DAY
    )
    assert visit["decision_id"] == decision["decision_id"] and _has(
        decision["cues"], "welcome_coffee"
    )
    assert _perks(store)["coffee"][:2] == (8, 2)


def test_a_bad_row_in_a_group_fails_only_its_request(store: Store, model: TierModel) -> None:
    """A group write refused for one request's row is written again one request at a time:
    the others are stored with their perks, taken once each; the bad one fails alone."""
    fallback = _stock(store, model, coffee=10)
    taken = decide(store=store, model=model, fallback=fallback, site="s", signals=VIP, today=DAY)
    prepared = [
        prepare_many(
            store=store, model=model, fallback=fallback, site="s", requests=[(None, VIP)], today=DAY
        )
        for _ in range(4)
    ]
    prepared[2][1][0]["decision_id"] = taken["decision_id"]  # refused by the primary key
    writer = DecisionWriter(store)

    async def main() -> list[BaseException | None]:
        return await asyncio.gather(
            *(writer.write(rows) for _, rows in prepared), return_exceptions=True
        )

    results = asyncio.run(main())
    assert [type(r) for r in results] == [type(None), type(None), Conflict, type(None)]
    for i in (0, 1, 3):
        [decision] = prepared[i][0]
        stored = store.get_decision(decision["decision_id"])
        assert stored is not None and stored["cues"] == decision["cues"]
        assert _has(decision["cues"], "welcome_coffee")
    assert _perks(store)["coffee"][:2] == (6, 4)  # the first decision's and three more


def test_an_override_picks_the_new_tiers_cues_and_moves_their_perks(
    store: Store, model: TierModel
) -> None:
    """Overriding a VIP visit to standard shows standard's cues and gives the VIP perks
    back; overriding it to vip again takes them anew, and a perk out of stock by then is
    not shown."""
    fallback = _stock(store, model, coffee=1)
    store.upsert_customer("c-9", VIP, scope="")
    today = dt.datetime.now(dt.UTC).date()  # the day the decision's perks are counted on
    visit, decision = check_in(
        store=store, model=model, fallback=fallback, site="s", customer_id="c-9"
    )
    assert decision["tier"] == "vip" and _has(decision["cues"], "welcome_coffee")
    assert _perks(store, today)["coffee"][:2] == (0, 1)

    def to(tier: str) -> dict[str, Any]:
        view, replay = override(
            store=store,
            playbook=model.playbook,
            default_tier="standard",
            site="s",
            ticket=visit["ticket"],
            tier=tier,
            reason="manager's call",
            actor="k1",
        )
        assert not replay and view["tier"] == tier
        assert store.get_visit("s", visit["ticket"])["cues"] == view["cues"]
        return view

    standard = to("standard")
    assert [c["code"] for c in standard["cues"]] == [
        c.code for c in model.playbook.tiers["standard"].cues
    ]
    assert _perks(store, today)["coffee"][:2] == (1, 0)
    assert _perks(store, today)["brand_dessert"][:2] == (60, 0)
    again = to("vip")
    assert _has(again["cues"], "welcome_coffee") and _has(again["cues"], "car_dessert")
    assert _perks(store, today)["coffee"][:2] == (0, 1)
    assert to("vip")["cues"] == again["cues"]  # the held perks are kept, not taken twice
    assert _perks(store, today)["coffee"][:2] == (0, 1)
    assert _perks(store, today)["brand_dessert"][:2] == (59, 1)
    assert decision["cues"] == store.get_visit("s", visit["ticket"])["decision"]["cues"]


def _has(cues: Any, code: str) -> bool:
    return any(c["code"] == code for c in cues)
