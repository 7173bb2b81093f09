"""Erasure of a customer and retention of signals, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import record_vip_decision
from tierline.engine.errors import NotFound
from tierline.engine.store import Store
from tierline.engine.store.privacy import ERASE_ACTION, erasure_digest

GUEST = "guest-7c1e9"  # a distinctive id, to find any copy of it left in the database
OTHER = "guest-other"
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
CUES = [
    {"code": "seat_fast", "text": "Seat within 5 minutes", "perk": None},
    {"code": "brand_dessert", "text": "Dessert with the Porsche logo", "perk": "dessert"},
]
REASONS = [
    {"feature": "car_brand", "value": "Porsche", "effect": 0.3, "text": "car_brand = Porsche"}
]
SOURCE = {"campaign": "brand_search", "landing_page": "/book", "channel": "ads"}
NOTE = "Mme Dupont, anniversaire"
SIGNALS = {"car_brand": "Porsche", "visits_90d": 9, **SOURCE}


class Clock:
    """A settable UTC clock for the store."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timed(url: str, clock: Clock) -> Any:
    """An open store on the settable clock."""
    with Store.open(url, clock=clock) as opened:
        yield opened


def _decide(store: Store, customer_id: str | None) -> str:
    return record_vip_decision(
        store, customer_id, cues=CUES, reasons=REASONS, site="paris", signals=SIGNALS
    )


def _guest_history(store: Store, customer_id: str, ticket: int) -> tuple[str, int]:
    """A profile, a decision, a visit with a source and an override, an outcome with a note."""
    store.upsert_customer(customer_id, {"car_brand": "Porsche", "visits_90d": 9}, scope="")
    decision_id = _decide(store, customer_id)
    store.open_visit(
        site="paris",
        ticket_range=(ticket, ticket),
        decision_id=decision_id,
        customer_id=customer_id,
        party_size=2,
        source=SOURCE,
    )
    store.override_visit("paris", ticket, tier="student", reason=NOTE, actor="k-staff")
    body = {"decision_id": decision_id, "spend": 84.5, "accepted": ["seat_fast"]}
    store.record_outcome(
        site="paris",
        idempotency_key=f"outcome-{ticket}",
        body={**body, "declined": [], "converted": True, "note": NOTE},
    )
    store.close_visit("paris", ticket, spend=84.5)
    return decision_id, ticket


def _texts(raw: Callable[[str], list[Any]], table: str) -> str:
    return " ".join(str(tuple(row)) for row in raw(f"SELECT * FROM {table}"))


def test_erasure_drops_identity_and_signals_and_keeps_the_figures(
    store: Store, raw: Callable[[str], list[Any]]
) -> None:
    """After an erasure no row names the customer or keeps a personal signal, while tier,
    confidence, cue codes, perks, spend and times stay; another customer is untouched."""
    decision_id, ticket = _guest_history(store, GUEST, 1)
    other_decision, _ = _guest_history(store, OTHER, 2)
    before = store.get_decision(decision_id)
    assert before is not None
    # An override's own cues, as the override's pick stores them.
    raw(
        "UPDATE visits SET override_cues = "
        f"'{json.dumps([CUES[1]])}' WHERE ticket = {ticket} AND site = 'paris'"
    )

    erased = store.erase_customer(GUEST, actor="k-admin")

    assert erased == {"profile": True, "decisions": 1, "visits": 1, "outcomes": 1}
    assert store.get_customer(GUEST, scope="") is None
    after = store.get_decision(decision_id)
    assert after is not None and after["customer_id"] is None
    for field in ("tier", "confidence", "score", "model_version", "holdout", "created_at"):
        assert after[field] == before[field]
    assert [(c["code"], c["perk"], c["text"]) for c in after["cues"]] == [
        ("seat_fast", None, "seat_fast"),
        ("brand_dessert", "dessert", "brand_dessert"),
    ]
    assert after["reasons"] == [
        {"feature": "car_brand", "value": None, "effect": 0.3, "text": "car_brand"}
    ]
    visit = store.get_visit("paris", ticket)
    assert visit["customer_id"] is None and visit["source"] is None
    assert visit["spend"] == 84.5 and visit["party_size"] == 2 and visit["tier"] == "student"
    assert visit["override"]["reason"] is None and visit["accepted"] == ["seat_fast"]
    outcome = store.get_outcome("paris", "outcome-1")
    assert outcome is not None and outcome["note"] is None and outcome["spend"] == 84.5
    assert visit["cues"] == [{"code": "brand_dessert", "text": "brand_dessert", "perk": "dessert"}]
    for table in ("customers", "decisions", "visits", "outcomes"):
        assert GUEST not in _texts(raw, table)
    kept = store.get_decision(other_decision)
    assert kept is not None and kept["customer_id"] == OTHER and kept["cues"] == CUES
    assert store.get_customer(OTHER, scope="") is not None


def test_erasure_is_audited_with_a_salted_digest_never_the_id(
    store: Store, raw: Callable[[str], list[Any]]
) -> None:
    """The audit row names the actor, the time and a salted SHA-256 of the id, and the id
    itself appears nowhere in the audit log."""
    _decide(store, GUEST)
    store.erase_customer(GUEST, actor="k-admin", detail={"key_name": "manager"})
    [entry] = [e for e in store.audit_log() if e["action"] == ERASE_ACTION]
    assert entry["actor"] == "k-admin" and entry["at"].tzinfo is not None
    assert entry["detail"]["key_name"] == "manager" and entry["detail"]["decisions"] == 1
    assert entry["subject"] == erasure_digest(GUEST, entry["detail"]["salt"])
    assert entry["subject"] != erasure_digest(GUEST, "") and len(entry["subject"]) == 64
    assert GUEST not in _texts(raw, "audit")


def test_erasing_an_unknown_or_erased_id_is_not_found_and_writes_nothing(store: Store) -> None:
    """A second erasure of the same id, or of an id nothing names, is NotFound and adds no
    audit row."""
    _guest_history(store, GUEST, 1)
    store.erase_customer(GUEST, actor="cli")
    for customer_id in (GUEST, "never-seen"):
        with pytest.raises(NotFound, match="unknown or was erased already"):
            store.erase_customer(customer_id, actor="cli")
    assert [e["action"] for e in store.audit_log()].count(ERASE_ACTION) == 1


def test_an_erasure_that_fails_changes_nothing(store: Store) -> None:
    """Erasure is one transaction: when its last step (the audit row) fails, the profile,
    the decision's customer id and its signals are all still there."""
    decision_id, _ = _guest_history(store, GUEST, 1)
    with pytest.raises((sa.exc.StatementError, TypeError)):  # the drivers differ
        store.erase_customer(GUEST, actor="cli", detail={"unstorable": object()})
    assert store.get_customer(GUEST, scope="") is not None
    decision = store.get_decision(decision_id)
    assert decision is not None and decision["customer_id"] == GUEST and decision["cues"] == CUES
    assert store.get_outcome("paris", "outcome-1")["note"] == NOTE  # type: ignore[index]


def test_retention_scrubs_signals_of_old_rows_only_and_keeps_ids(
    timed: Store, clock: Clock
) -> None:
    """Pruning scrubs cue texts, reason values and visit sources of rows older than the
    cut-off, keeps their figures and customer ids, leaves newer rows alone, and a second
    pass finds nothing left to do."""
    old_decision, old_ticket = _guest_history(timed, GUEST, 1)
    clock.now = T0 + timedelta(days=40)
    new_decision, new_ticket = _guest_history(timed, OTHER, 2)
    cutoff = T0 + timedelta(days=30)

    assert timed.prune_signals(older_than=cutoff) == {"decisions": 1, "visits": 1}
    assert timed.prune_signals(older_than=cutoff) == {"decisions": 0, "visits": 0}

    old = timed.get_decision(old_decision)
    assert old is not None and old["customer_id"] == GUEST and old["tier"] == "vip"
    assert [c["text"] for c in old["cues"]] == ["seat_fast", "brand_dessert"]
    assert old["reasons"][0]["value"] is None and old["reasons"][0]["effect"] == 0.3
    old_visit = timed.get_visit("paris", old_ticket)
    assert old_visit["source"] is None and old_visit["spend"] == 84.5
    assert old_visit["customer_id"] == GUEST
    new = timed.get_decision(new_decision)
    assert new is not None and new["cues"] == CUES and new["reasons"] == REASONS
    assert timed.get_visit("paris", new_ticket)["source"] == SOURCE
    assert (
        timed.get_customer(GUEST, scope="") is not None
    )  # profiles are the CRM's, not retention's
    later = T0 + timedelta(days=80)
    assert timed.prune_signals(older_than=later) == {"decisions": 1, "visits": 1}


def test_retention_works_through_many_rows_in_chunks(timed: Store, clock: Clock) -> None:
    """Pruning reaches every old decision past the size of one transaction's chunk, and
    decisions added after a pass are pruned by the next one."""
    items = [
        {
            "customer_id": f"c{i}",
            "site": "paris",
            "tier": "standard",
            "confidence": 0.5,
            "score": 0.5,
            "cues": CUES,
            "reasons": REASONS,
            "model_version": None,
            "holdout": False,
            "degraded": False,
        }
        for i in range(1203)
    ]
    ids = timed.record_decisions(items)
    clock.now = T0 + timedelta(days=1)
    assert timed.prune_signals(older_than=clock.now) == {"decisions": 1203, "visits": 0}
    more = timed.record_decisions(items[:7])
    clock.now = T0 + timedelta(days=2)
    assert timed.prune_signals(older_than=clock.now) == {"decisions": 7, "visits": 0}
    for decision_id in (ids[0], ids[600], ids[-1], more[-1]):
        decision = timed.get_decision(decision_id)
        assert decision is not None and decision["reasons"][0]["value"] is None
