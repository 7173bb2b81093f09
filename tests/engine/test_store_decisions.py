"""The store's customers, decisions and the outcomes reported on them (replayed once per
idempotency key)."""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.engine.conftest import OUTCOME, in_threads, store_decision
from tierline.engine.errors import Conflict, NotFound
from tierline.engine.store import Store, request_hash
from tierline.engine.store.schema import outcomes


# -- customers and decisions ---------------------------------------------------------------
def test_customers_upsert_replaces_signals_and_keeps_unicode(store: Store) -> None:
    """A customer's signals round-trip unicode intact and a second upsert replaces them."""
    first = store.upsert_customer(
        "zoë-1", {"name": "Zoë Ångström 中文", "car_brand": "Škoda"}, scope=""
    )
    assert store.get_customer("zoë-1", scope="") == first
    store.upsert_customer("zoë-1", {"visits_90d": 4}, scope="")
    again = store.get_customer("zoë-1", scope="")
    assert again is not None
    assert again["signals"] == {"visits_90d": 4}
    assert again["updated_at"] >= first["updated_at"]


def test_unknown_customer_is_none(store: Store) -> None:
    """Looking up a customer nobody stored answers None."""
    assert store.get_customer("nobody", scope="") is None


def test_decisions_round_trip(store: Store) -> None:
    """A recorded decision comes back whole under its uuid4-hex id; unknown ids are None."""
    decision_id = store_decision(store)
    assert len(decision_id) == 32
    got = store.get_decision(decision_id)
    assert got is not None
    assert got["tier"] == "vip" and got["site"] == "paris" and got["holdout"] is False
    assert got["cues"] == [{"code": "welcome_coffee", "text": "Offer a coffee", "perk": "coffee"}]
    assert got["reasons"][0]["effect"] == 0.42
    assert got["created_at"].tzinfo is not None
    assert store.get_decision("0" * 32) is None


def test_record_decisions_stores_a_batch_in_order(store: Store) -> None:
    """A batch of decisions gets distinct ids, each stored with its own fields."""
    items = [
        {
            "customer_id": f"c{i}",
            "site": "paris",
            "tier": "standard",
            "confidence": 0.5,
            "score": i / 10,
            "cues": [],
            "reasons": [],
            "model_version": None,
            "holdout": i == 0,
            "degraded": True,
        }
        for i in range(5)
    ]
    ids = store.record_decisions(items)
    assert len(set(ids)) == 5
    for i, decision_id in enumerate(ids):
        got = store.get_decision(decision_id)
        assert got is not None and got["customer_id"] == f"c{i}" and got["score"] == i / 10


def test_times_are_stored_and_returned_in_utc(url: str) -> None:
    """A clock in another timezone is stored as the same instant and read back as UTC."""
    local = datetime(2025, 11, 26, 21, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    with Store.open(url, clock=lambda: local) as clocked:
        clocked.upsert_customer("c1", {}, scope="")
        customer = clocked.get_customer("c1", scope="")
    assert customer is not None
    assert customer["updated_at"] == local
    assert customer["updated_at"].tzinfo == UTC


def test_decision_times_written_raw_read_back_through_core(url: str) -> None:
    """Decisions are written on the driver's connection (engine.store.raw) and read through
    SQLAlchemy: the instant, including a whole second, survives the round trip, and such
    rows sort with the rest by time."""
    times = [
        datetime(2025, 11, 26, 21, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2))),
        datetime(2025, 11, 26, 19, 30, 16, tzinfo=UTC),  # no microseconds
    ]
    clock = iter(times)
    with Store.open(url, clock=lambda: next(clock)) as clocked:
        ids = [store_decision(clocked) for _ in times]
        got = [clocked.get_decision(i) for i in ids]
    assert [g["created_at"] for g in got if g is not None] == times


def test_closing_the_store_closes_its_raw_connections(tmp_path: Path) -> None:
    """Each thread's SQLite connection of the raw statements is closed with the store."""
    store = Store.open(f"sqlite:///{tmp_path / 'raw.db'}")
    assert store.get_customer("nobody", scope="") is None
    opened = list(store._db.raw._opened)
    store.close()
    assert opened, "the read should have opened this thread's connection"
    with pytest.raises(sqlite3.ProgrammingError):
        opened[0].execute("SELECT 1")


# -- outcomes --------------------------------------------------------------------------------
def test_outcome_replay_returns_the_first_result_even_after_reopening(url: str) -> None:
    """The same key and body give back the first stored outcome, also from a new process."""
    with Store.open(url) as first_process:
        body = {"decision_id": store_decision(first_process), **OUTCOME}
        stored, replay = first_process.record_outcome(
            site="paris", idempotency_key="k-1", body=body
        )
        assert replay is False
        assert stored["note"] == OUTCOME["note"] and stored["spend"] == 84.5
        again, replay = first_process.record_outcome(
            site="paris", idempotency_key="k-1", body=dict(body)
        )
        assert (again, replay) == (stored, True)
        assert list(again) == list(stored)
    with Store.open(url) as second_process:
        assert second_process.record_outcome(site="paris", idempotency_key="k-1", body=body) == (
            stored,
            True,
        )
        assert second_process.get_outcome("paris", "k-1") == stored


def test_outcome_key_reused_with_another_body_is_a_conflict(store: Store) -> None:
    """Reusing an idempotency key with a different body is a Conflict and stores nothing."""
    body = {"decision_id": store_decision(store), **OUTCOME}
    stored, _ = store.record_outcome(site="paris", idempotency_key="k-1", body=body)
    with pytest.raises(Conflict, match="k-1"):
        store.record_outcome(site="paris", idempotency_key="k-1", body={**body, "spend": 1.0})
    assert store.get_outcome("paris", "k-1") == stored


def test_concurrent_posts_with_one_key_store_one_outcome(store: Store) -> None:
    """Retries racing with one key store one outcome; all but one are replays of it."""
    body = {"decision_id": store_decision(store), **OUTCOME}
    results = in_threads(
        lambda _: store.record_outcome(site="paris", idempotency_key="k", body=body), 12, 6
    )
    assert [replay for _, replay in results].count(False) == 1
    assert all(out == results[0][0] for out, _ in results)


def test_a_post_racing_an_uncommitted_first_post_replays_it(store: Store, url: str) -> None:
    """A retry that arrives while the first post is still uncommitted waits and replays it."""
    body = {"decision_id": store_decision(store), **OUTCOME}
    first = {
        "id": "a" * 32,
        "site": "paris",
        "idempotency_key": "k",
        "request_hash": request_hash(body),
        "decision_id": body["decision_id"],
        **OUTCOME,
        "created_at": datetime.now(UTC),
    }
    engine = sa.create_engine(url)
    try:
        with ThreadPoolExecutor(1) as pool:
            with engine.begin() as conn:
                conn.execute(sa.insert(outcomes).values(first))
                retry = pool.submit(
                    store.record_outcome, site="paris", idempotency_key="k", body=body
                )
                time.sleep(0.3)  # the retry reaches the key's row lock and waits
                assert not retry.done()
            stored, replay = retry.result(timeout=30)
    finally:
        engine.dispose()
    assert replay is True and stored["id"] == "a" * 32 and stored["note"] == OUTCOME["note"]


def test_outcome_for_an_unknown_decision_is_not_found(store: Store) -> None:
    """An outcome naming a decision that was never stored is NotFound and not stored."""
    with pytest.raises(NotFound, match="Decision"):
        store.record_outcome(
            site="paris", idempotency_key="k", body={"decision_id": "0" * 32, **OUTCOME}
        )
    assert store.get_outcome("paris", "k") is None
