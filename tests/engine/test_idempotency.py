"""Idempotency keys on the store, on SQLite and PostgreSQL: each site has its own keys, a key
names one request there (outcome, close or override), and a repeat of that request replays
the first answer."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tierline.engine.errors import IdempotencyKeyReused
from tierline.engine.store import Store

KEY = "till3-0001"
DECISION = {
    "customer_id": None,
    "tier": "vip",
    "confidence": 0.8,
    "score": 0.8,
    "cues": [],
    "reasons": [],
    "model_version": None,
    "holdout": False,
    "degraded": False,
}
OUTCOME = {"spend": 20.0, "accepted": [], "declined": [], "converted": True, "note": None}


def _visit(store: Store, site: str) -> tuple[int, str]:
    """A decision at ``site`` and an open visit for it: ``(ticket, decision id)``."""
    decision_id = store.record_decision(site=site, **DECISION)
    visit = store.open_visit(
        site=site, ticket_range=(1, 50), decision_id=decision_id, customer_id=None, party_size=2
    )
    return int(visit["ticket"]), decision_id


def _override(
    store: Store, site: str, ticket: int, *, tier: str = "student", key: str = KEY
) -> Any:
    return store.override_visit(
        site, ticket, tier=tier, reason="card", actor="k", idempotency_key=key
    )


def test_two_sites_store_their_own_requests_under_one_key(
    store: Store, raw: Callable[[str], list[Any]]
) -> None:
    """Lyon and Paris both send the same key for an outcome, a close and an override: each
    is stored as a first request, and each site's retry replays its own answer."""
    answers = {}
    for site, spend in (("lyon", 10.0), ("paris", 99.0)):
        ticket, decision_id = _visit(store, site)
        body = {**OUTCOME, "decision_id": decision_id, "spend": spend}
        outcome, replay = store.record_outcome(site=site, idempotency_key=KEY, body=body)
        view, override_replay = _override(store, site, ticket)
        closed = store.close_visit(site, ticket, spend=spend, idempotency_key=KEY)
        assert not replay and not override_replay and view["tier"] == "student"
        answers[site] = (ticket, body, outcome, closed)
    for site, (ticket, body, outcome, closed) in answers.items():
        assert store.record_outcome(site=site, idempotency_key=KEY, body=body) == (outcome, True)
        assert store.get_outcome(site, KEY) == outcome
        assert store.close_visit(site, ticket, spend=body["spend"], idempotency_key=KEY) == closed
        assert _override(store, site, ticket)[1] is True
    assert len(raw(f"SELECT id FROM outcomes WHERE idempotency_key = '{KEY}'")) == 2
    assert len(raw("SELECT id FROM audit WHERE action = 'override'")) == 2


def test_a_key_reused_for_another_request_is_refused_on_every_action(
    store: Store, raw: Callable[[str], list[Any]]
) -> None:
    """At one site, a key sent again with another outcome, another spend or ticket to close,
    or another tier or ticket to override is IdempotencyKeyReused, and nothing changes."""
    ticket, decision_id = _visit(store, "lyon")
    other_ticket, _ = _visit(store, "lyon")
    body = {**OUTCOME, "decision_id": decision_id}
    store.record_outcome(site="lyon", idempotency_key=KEY, body=body)
    _override(store, "lyon", ticket)
    store.close_visit("lyon", ticket, spend=20.0, idempotency_key=KEY)
    before = [
        raw(f"SELECT * FROM {table} ORDER BY id") for table in ("outcomes", "visits", "audit")
    ]
    refused: list[Callable[[], Any]] = [
        lambda: store.record_outcome(site="lyon", idempotency_key=KEY, body={**body, "spend": 1}),
        lambda: store.close_visit("lyon", ticket, spend=21.0, idempotency_key=KEY),
        lambda: store.close_visit("lyon", other_ticket, spend=20.0, idempotency_key=KEY),
        lambda: _override(store, "lyon", ticket, tier="vip"),
        lambda: _override(store, "lyon", other_ticket),
    ]
    for attempt in refused:
        with pytest.raises(IdempotencyKeyReused, match=KEY):
            attempt()
    after = [raw(f"SELECT * FROM {table} ORDER BY id") for table in ("outcomes", "visits", "audit")]
    assert after == before


def test_a_late_close_retry_replays_even_once_the_ticket_is_reused(store: Store) -> None:
    """A close retried after its ticket went to a new guest returns the first close and
    leaves the new guest's visit open."""
    ticket, _ = _visit(store, "lyon")
    first = store.close_visit("lyon", ticket, spend=42.0, idempotency_key=KEY)
    assert _visit(store, "lyon")[0] == ticket
    assert store.close_visit("lyon", ticket, spend=42.0, idempotency_key=KEY) == first
    assert store.get_visit("lyon", ticket)["closed_at"] is None


def test_concurrent_retries_of_one_override_audit_it_once(
    store: Store, raw: Callable[[str], list[Any]]
) -> None:
    """Retries of one override racing each other write one audit entry; all but one replay."""
    ticket, _ = _visit(store, "lyon")
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: _override(store, "lyon", ticket), range(12)))
    assert [replay for _, replay in results].count(False) == 1
    assert len(raw("SELECT id FROM audit WHERE action = 'override'")) == 1
