"""The store, run against SQLite (a temp file) and PostgreSQL (a fresh schema per test).

Over 400 lines: still to be split by what the store holds.

PostgreSQL comes from ``TIERLINE_TEST_PG_URL`` (default: the local server's ``test``
database). Each test gets its own randomly named schema through ``search_path`` and drops
it afterwards, so runs never see each other. If PostgreSQL cannot be reached, its tests
fail: the store must be proven on both databases.
"""

from __future__ import annotations

import hmac
import itertools
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tests.conftest import record_vip_decision
from tierline.engine.errors import Conflict, NotFound, StoreError, TierlineError
from tierline.engine.playbook import Perk
from tierline.engine.store import Store, head, request_hash, upgrade
from tierline.engine.store.database import Database
from tierline.engine.store.migrate import alembic_config
from tierline.engine.store.schema import metadata, outcomes

DAY = date(2025, 11, 26)
TABLES = {
    "customers",
    "decisions",
    "visits",
    "outcomes",
    "perks",
    "perk_usage",
    "api_keys",
    "audit",
    "pairing_codes",
    "retention_marks",
    "alembic_version",
}
OUTCOME = {
    "spend": 84.5,
    "accepted": ["welcome_coffee"],
    "declined": [],
    "converted": True,
    "note": "Gäste mochten den Kaffee ☕ — 再来",
}


def _decide(store: Store, *, customer_id: str | None = "c1", site: str = "paris") -> str:
    return record_vip_decision(
        store,
        customer_id,
        cues=[{"code": "welcome_coffee", "text": "Offer a coffee", "perk": "coffee"}],
        reasons=[{"feature": "visits_90d", "value": "14", "effect": 0.42}],
        site=site,
    )


def _parallel(fn: Callable[[int], Any], n: int, threads: int = 16) -> list[Any]:
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(fn, range(n)))


# -- schema ------------------------------------------------------------------------------
def test_open_builds_every_table_at_the_newest_revision(store: Store, url: str) -> None:
    """Opening an empty database creates all tables and records the head revision."""
    engine = sa.create_engine(url)
    try:
        assert set(sa.inspect(engine).get_table_names()) >= TABLES
        with engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT version_num FROM alembic_version")) == head()
    finally:
        engine.dispose()


def test_opening_and_upgrading_again_changes_nothing(url: str) -> None:
    """A second open and an explicit upgrade of a migrated database keep its data."""
    with Store.open(url) as first:
        first.upsert_customer("c1", {"visits": 3}, scope="")
    upgrade(url)
    with Store.open(url) as second:
        customer = second.get_customer("c1", scope="")
        assert customer is not None
        assert customer["signals"] == {"visits": 3}


def test_migrated_schema_matches_the_tables_the_code_queries(store: Store, url: str) -> None:
    """Alembic finds no difference between the migrated database and engine.store.schema."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_concurrent_first_opens_migrate_once(url: str) -> None:
    """Several processes starting on an empty database at once all open it successfully."""
    barrier = threading.Barrier(4)

    def open_one(_: int) -> bool:
        barrier.wait()
        with Store.open(url) as opened:
            return opened.ping()

    assert _parallel(open_one, 4, threads=4) == [True] * 4


def test_commits_are_durable(store: Store, backend: str) -> None:
    """SQLite runs in WAL with synchronous=FULL; PostgreSQL commits synchronously."""
    # The store's own pooled connection: synchronous is a per-connection setting.
    with store._db.engine.connect() as conn:
        if backend == "sqlite":
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        else:
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() != "off"


def test_a_decision_write_leaves_its_connection_durable_again(store: Store, backend: str) -> None:
    """Decisions are written at synchronous=NORMAL on the thread's raw connection; the
    durable write that follows on it (an outcome, here any) runs at FULL again, and the pooled
    connections were never relaxed."""
    _decide(store)
    if backend == "sqlite":
        with store._db.raw.transaction(write=True, durable=False) as cur:
            assert cur.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        with store._db.raw.transaction(write=True, durable=True) as cur:
            assert cur.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        with store._db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_a_database_from_a_newer_tierline_is_refused(
    url: str, raw: Callable[[str], list[Any]]
) -> None:
    """A schema revision this code does not know is a StoreError that says to upgrade tierline."""
    upgrade(url)
    raw("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StoreError, match="newer tierline"):
        Store.open(url)


def test_unreachable_or_unusable_databases_raise_store_error(backend: str) -> None:
    """A database that cannot be reached or used is a StoreError naming the URL, not a crash."""
    bad = {
        "sqlite": ["sqlite:////proc/tierline/x.db", "sqlite://", "mysql://u@h/db", "::"],
        "postgresql": ["postgresql://postgres@127.0.0.1:1/test"],
    }[backend]
    for url in bad:
        with pytest.raises(StoreError):
            Store.open(url)


def test_ping_answers_true_while_the_database_is_up(store: Store) -> None:
    """Readiness: ping is True for a reachable store."""
    assert store.ping() is True


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
    decision_id = _decide(store)
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
        ids = [_decide(clocked) for _ in times]
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


# -- perks -----------------------------------------------------------------------------------
def test_take_perk_issues_exactly_the_stock_under_concurrency(store: Store) -> None:
    """1,000 concurrent takes of a perk with stock 100 from 16 threads issue exactly 100."""
    store.sync_perks({"coffee": Perk(name="coffee", cost=2.5, stock=100, daily_budget=None)})
    results = _parallel(lambda _: store.take_perk("coffee", day=DAY), 1000)
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


# -- visits ----------------------------------------------------------------------------------
def _check_in(store: Store, *, site: str = "paris", tickets: tuple[int, int] = (1, 3)) -> int:
    visit = store.open_visit(
        site=site,
        ticket_range=tickets,
        decision_id=_decide(store, site=site),
        customer_id="c1",
        party_size=2,
    )
    return int(visit["ticket"])


def test_tickets_are_the_lowest_free_and_reused_after_close(store: Store) -> None:
    """Open visits hold distinct tickets per site; a closed ticket is handed out again."""
    assert [_check_in(store), _check_in(store)] == [1, 2]
    assert _check_in(store, site="lyon") == 1
    store.close_visit("paris", 1, spend=40.0)
    assert _check_in(store) == 1
    assert _check_in(store) == 3


def test_a_full_ticket_range_is_a_conflict(store: Store) -> None:
    """When every ticket of the range is open, check-in is a Conflict."""
    for _ in range(3):
        _check_in(store)
    with pytest.raises(Conflict, match="1-3"):
        _check_in(store)


def test_concurrent_check_ins_get_distinct_tickets(store: Store) -> None:
    """40 simultaneous check-ins at one site get 40 different tickets, the lowest ones."""
    decision_id = _decide(store)

    def check_in(_: int) -> int:
        visit = store.open_visit(
            site="paris",
            ticket_range=(100, 199),
            decision_id=decision_id,
            customer_id=None,
            party_size=None,
        )
        return int(visit["ticket"])

    assert sorted(_parallel(check_in, 40, threads=8)) == list(range(100, 140))


def test_another_sites_ticket_is_not_found_like_a_missing_one(store: Store) -> None:
    """Another site's ticket raises NotFound with exactly the message of an unused ticket."""
    with pytest.raises(NotFound) as unused:
        store.get_visit("paris", 1)
    ticket = _check_in(store, site="lyon")
    assert ticket == 1
    with pytest.raises(NotFound) as foreign:
        store.get_visit("paris", ticket)
    with pytest.raises(NotFound) as closing:
        store.close_visit("paris", ticket, spend=1.0)
    assert str(foreign.value) == str(unused.value) == str(closing.value)
    assert store.get_visit("lyon", ticket)["closed_at"] is None


def test_closing_twice_is_a_conflict(store: Store) -> None:
    """A closed visit keeps its spend and closing it again is a Conflict."""
    ticket = _check_in(store)
    closed = store.close_visit("paris", ticket, spend=120.5)
    assert closed["spend"] == 120.5 and closed["closed_at"] >= closed["opened_at"]
    assert store.get_visit("paris", ticket) == closed
    with pytest.raises(Conflict, match="already closed"):
        store.close_visit("paris", ticket, spend=1.0)


def test_open_visits_are_listed_newest_first_for_their_site_only(store: Store) -> None:
    """The display list holds the site's open visits, newest first."""
    first, second, third = _check_in(store), _check_in(store), _check_in(store)
    _check_in(store, site="lyon")
    store.close_visit("paris", second, spend=0.0)
    listed = store.list_open_visits("paris")
    assert [v["ticket"] for v in listed] == [third, first]
    assert all(v["closed_at"] is None and v["party_size"] == 2 for v in listed)


def test_a_visit_for_an_unknown_decision_is_not_found(store: Store) -> None:
    """Checking in with a decision id that was never stored is NotFound."""
    with pytest.raises(NotFound, match="Decision"):
        store.open_visit(
            site="paris",
            ticket_range=(1, 5),
            decision_id="f" * 32,
            customer_id=None,
            party_size=None,
        )


# -- outcomes --------------------------------------------------------------------------------
def test_outcome_replay_returns_the_first_result_even_after_reopening(url: str) -> None:
    """The same key and body give back the first stored outcome, also from a new process."""
    with Store.open(url) as first_process:
        body = {"decision_id": _decide(first_process), **OUTCOME}
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
    body = {"decision_id": _decide(store), **OUTCOME}
    stored, _ = store.record_outcome(site="paris", idempotency_key="k-1", body=body)
    with pytest.raises(Conflict, match="k-1"):
        store.record_outcome(site="paris", idempotency_key="k-1", body={**body, "spend": 1.0})
    assert store.get_outcome("paris", "k-1") == stored


def test_concurrent_posts_with_one_key_store_one_outcome(store: Store) -> None:
    """Retries racing with one key store one outcome; all but one are replays of it."""
    body = {"decision_id": _decide(store), **OUTCOME}
    results = _parallel(
        lambda _: store.record_outcome(site="paris", idempotency_key="k", body=body), 12, 6
    )
    assert [replay for _, replay in results].count(False) == 1
    assert all(out == results[0][0] for out, _ in results)


def test_a_post_racing_an_uncommitted_first_post_replays_it(store: Store, url: str) -> None:
    """A retry that arrives while the first post is still uncommitted waits and replays it."""
    body = {"decision_id": _decide(store), **OUTCOME}
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


# -- keys and audit --------------------------------------------------------------------------
def test_keys_are_stored_only_as_hashes(store: Store, raw: Callable[[str], list[Any]]) -> None:
    """Neither the key nor its secret part appears anywhere in the keys table."""
    plaintext, record = store.create_key(role="pos", site="paris", name="till 1")
    assert plaintext.startswith(f"tl_{record['id']}_")
    secret = plaintext.split("_", 2)[2]
    cells = [str(cell) for row in raw("SELECT * FROM api_keys") for cell in row]
    assert cells and not any(plaintext in c or secret in c for c in cells)
    assert "key_hash" not in record and all("key_hash" not in k for k in store.list_keys())


def test_authenticate_accepts_only_live_well_formed_keys(store: Store) -> None:
    """A live key authenticates; wrong, unknown, malformed and revoked keys do not."""
    plaintext, record = store.create_key(role="staff", site="paris", name=None)
    assert store.authenticate(plaintext) == record
    wrong = plaintext[:-4] + ("AAAA" if not plaintext.endswith("AAAA") else "BBBB")
    other, _ = store.create_key(role="admin", site="hq", name="ops")
    spliced = f"tl_{record['id']}_{other.split('_', 2)[2]}"
    unknown = f"tl_{'0' * 12}_{plaintext.split('_', 2)[2]}"
    for bad in [wrong, spliced, unknown, "", "tl_", "Bearer x", plaintext + "x", "ü" * 60]:
        assert store.authenticate(bad) is None, bad
    revoked = store.revoke_key(record["id"])
    assert revoked["revoked_at"] is not None
    assert store.authenticate(plaintext) is None
    assert store.revoke_key(record["id"])["revoked_at"] == revoked["revoked_at"]
    assert store.authenticate(other) is not None


def test_authenticate_compares_hashes_in_constant_time(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stored and presented hashes are compared with hmac.compare_digest."""
    plaintext, _ = store.create_key(role="pos", site="paris", name=None)
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert store.authenticate(plaintext) is not None
    assert len(calls) == 1


def test_key_management_lists_revokes_and_refuses_bad_input(store: Store) -> None:
    """Keys list oldest first without secrets; unknown roles and unknown ids are refused."""
    _, first = store.create_key(role="pos", site="paris", name="till")
    _, second = store.create_key(role="admin", site="hq", name="Zoë's laptop")
    assert [k["id"] for k in store.list_keys()] == [first["id"], second["id"]]
    assert store.list_keys()[1]["name"] == "Zoë's laptop"
    with pytest.raises(TierlineError, match="staff, pos, admin"):
        store.create_key(role="root", site="paris", name=None)
    with pytest.raises(NotFound):
        store.revoke_key("nope")


def test_audit_log_is_append_only(store: Store, raw: Callable[[str], list[Any]]) -> None:
    """Entries come back newest first, and the database refuses to change or delete them."""
    store.audit(actor="cli", action="promote", subject="v2", detail={"from": "v1"})
    store.audit(actor="k1", action="override", subject="d1", detail={"reason": "stammgast ☕"})
    store.audit(actor="cli", action="key.revoke", subject="k1", detail={})
    log = store.audit_log()
    assert [e["action"] for e in log] == ["key.revoke", "override", "promote"]
    assert log[1]["detail"] == {"reason": "stammgast ☕"} and log[1]["at"].tzinfo is not None
    assert [e["action"] for e in store.audit_log(limit=1)] == ["key.revoke"]
    for sql in ["UPDATE audit SET actor = 'x'", "DELETE FROM audit"]:
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            raw(sql)
    assert store.audit_log() == log


# -- the staff display's view of visits ------------------------------------------------------
def _visit(store: Store, *, source: dict[str, Any] | None = None) -> tuple[int, str]:
    decision_id = _decide(store)
    visit = store.open_visit(
        site="paris",
        ticket_range=(1, 99),
        decision_id=decision_id,
        customer_id="c1",
        party_size=2,
        source=source,
    )
    return int(visit["ticket"]), decision_id


def test_a_visit_view_carries_decision_source_and_marked_cues(store: Store) -> None:
    """The display's view: the decision, where the customer came from (unicode intact), and
    the cues marked by outcomes, the latest mark of a cue winning."""
    source = {"campaign": "printemps ☀", "landing_page": "/menu"}
    ticket, decision_id = _visit(store, source=source)
    store.record_outcome(
        site="paris", idempotency_key="k1", body={**OUTCOME, "decision_id": decision_id}
    )
    view = store.get_visit("paris", ticket)
    assert view["source"] == source and view["tier"] == "vip" and view["override"] is None
    assert view["decision"]["cues"][0]["code"] == "welcome_coffee"
    assert view["accepted"] == sorted(OUTCOME["accepted"])
    correction = {
        **OUTCOME,
        "decision_id": decision_id,
        "accepted": [],
        "declined": ["welcome_coffee"],
    }
    store.record_outcome(site="paris", idempotency_key="k2", body=correction)
    [listed] = store.list_open_visits("paris")
    assert listed["declined"] == ["welcome_coffee"] and listed["accepted"] == []
    assert not {"close_key", "override_key", "id"} & set(listed)


def test_override_is_stored_and_audited_once_per_idempotency_key(
    store: Store, raw: Callable[[str], list[Any]]
) -> None:
    """An override changes the tier in force and writes one audit row; a replay with the
    same key writes none; the key with another body, or a closed visit, is a Conflict."""
    ticket, decision_id = _visit(store)
    view, replay = store.override_visit(
        "paris",
        ticket,
        tier="student",
        reason="Carte étudiante",
        actor="k-staff",
        idempotency_key="o1",
    )
    assert not replay and view["tier"] == "student" and view["decision"]["tier"] == "vip"
    assert view["override"]["reason"] == "Carte étudiante" and view["override"]["by"] == "k-staff"
    again, replay = store.override_visit(
        "paris",
        ticket,
        tier="student",
        reason="Carte étudiante",
        actor="k-staff",
        idempotency_key="o1",
    )
    assert replay and again == view
    [entry] = [e for e in store.audit_log() if e["action"] == "override"]
    assert entry["detail"]["from"] == "vip" and entry["detail"]["to"] == "student"
    with pytest.raises(Conflict, match="another override"):
        store.override_visit(
            "paris", ticket, tier="vip", reason="x", actor="k-staff", idempotency_key="o1"
        )
    store.close_visit("paris", ticket, spend=10.0)
    with pytest.raises(Conflict, match="closed"):
        store.override_visit("paris", ticket, tier="vip", reason="x", actor="k-staff")
    assert len(raw("SELECT id FROM audit WHERE action = 'override'")) == 1
    assert store.get_visit("paris", ticket)["tier"] == "student"
    assert decision_id == view["decision_id"]


def test_close_with_an_idempotency_key_replays_instead_of_conflicting(store: Store) -> None:
    """A tablet retrying a close it is unsure of gets the closed visit back; the same key
    with another spend, or a close without the key, is a Conflict."""
    ticket, _ = _visit(store)
    first = store.close_visit("paris", ticket, spend=42.0, idempotency_key="c1")
    assert store.close_visit("paris", ticket, spend=42.0, idempotency_key="c1") == first
    with pytest.raises(Conflict, match="spend 42"):
        store.close_visit("paris", ticket, spend=43.0, idempotency_key="c1")
    with pytest.raises(Conflict, match="already closed"):
        store.close_visit("paris", ticket, spend=42.0)


def test_day_report_totals_visits_spend_and_perks(url: str) -> None:
    """The manager's day: visits and spend by tier in force and by campaign, perks issued
    against stock and budget; other days and other sites are left out."""
    now = [datetime(2025, 11, 26, 12, 0, tzinfo=UTC)]
    with Store.open(url, clock=lambda: now[0]) as store:
        store.sync_perks({"coffee": Perk("coffee", cost=2.5, stock=10, daily_budget=20.0)})
        assert store.take_perk("coffee", day=DAY)
        a, _ = _visit(store, source={"campaign": "spring_menu"})
        b, _ = _visit(store, source={"campaign": "spring_menu"})
        c, _ = _visit(store)
        store.override_visit("paris", c, tier="standard", reason="walk-in", actor="k")
        store.close_visit("paris", a, spend=100.0)
        store.close_visit("paris", c, spend=30.5)
        now[0] = datetime(2025, 11, 27, 9, 0, tzinfo=UTC)
        _visit(store, source={"campaign": "spring_menu"})  # the next day
        report = store.day_report("paris", DAY)
        assert store.day_report("lyon", DAY)["visits"] == 0
    assert report["visits"] == 3 and report["spend"] == 130.5
    assert report["by_tier"] == [
        {"tier": "standard", "visits": 1, "open": 0, "spend": 30.5},
        {"tier": "vip", "visits": 2, "open": 1, "spend": 100.0},
    ]
    assert report["by_campaign"] == [
        {"campaign": "(none)", "visits": 1, "spend": 30.5},
        {"campaign": "spring_menu", "visits": 2, "spend": 100.0},
    ]
    assert report["perks"] == [
        {"perk": "coffee", "issued": 1, "spent": 2.5, "stock_left": 9, "daily_budget": 20.0}
    ]
    assert b != a


def _campaigns_by_day(
    url: str, opened: list[tuple[str, datetime]], days: list[date], zones: list[tzinfo]
) -> dict[tuple[str, date], set[str]]:
    """Open a visit per ``(campaign, opened_at)``; the campaigns each zone's report of each
    of ``days`` counts, by ``(zone name, day)``."""
    now = [opened[0][1]]
    found: dict[tuple[str, date], set[str]] = {}
    with Store.open(url, clock=lambda: now[0]) as store:
        for campaign, at in opened:
            now[0] = at
            _visit(store, source={"campaign": campaign})
        for zone, day in itertools.product(zones, days):
            report = store.day_report("paris", day, zone=zone)
            assert report["timezone"] == str(zone) and report["day"] == day.isoformat()
            found[str(zone), day] = {c["campaign"] for c in report["by_campaign"]}
    return found


def test_day_report_counts_visits_on_the_sites_local_day(url: str) -> None:
    """In Europe/Berlin (UTC+1 in November) a visit at 23:30 UTC counts on the next day and
    one at 23:10 UTC the day before on this one; in UTC (the default zone) they do not."""
    opened = [
        ("late_25th_utc", datetime(2025, 11, 25, 23, 10, tzinfo=UTC)),
        ("early_26th", datetime(2025, 11, 26, 0, 30, tzinfo=UTC)),
        ("evening_26th", datetime(2025, 11, 26, 22, 59, tzinfo=UTC)),
        ("late_26th_utc", datetime(2025, 11, 26, 23, 30, tzinfo=UTC)),
    ]
    zones = [ZoneInfo("Europe/Berlin"), UTC]
    found = _campaigns_by_day(url, opened, [DAY, DAY + timedelta(1)], zones)
    assert found == {
        ("Europe/Berlin", DAY): {"late_25th_utc", "early_26th", "evening_26th"},
        ("Europe/Berlin", DAY + timedelta(1)): {"late_26th_utc"},
        ("UTC", DAY): {"early_26th", "evening_26th", "late_26th_utc"},
        ("UTC", DAY + timedelta(1)): set(),
    }


@pytest.mark.parametrize(
    ("day", "before", "first", "last", "after"),
    [
        # Spring forward: 23 hours, from 23:00 UTC (CET) to 22:00 UTC (CEST).
        (date(2025, 3, 30), (3, 29, 22, 59), (3, 29, 23, 0), (3, 30, 21, 59), (3, 30, 22, 0)),
        # Fall back: 25 hours, from 22:00 UTC (CEST) to 23:00 UTC (CET).
        (date(2025, 10, 26), (10, 25, 21, 59), (10, 25, 22, 0), (10, 26, 22, 59), (10, 26, 23, 0)),
    ],
)
def test_day_report_on_a_daylight_saving_day(
    url: str,
    day: date,
    before: tuple[int, ...],
    first: tuple[int, ...],
    last: tuple[int, ...],
    after: tuple[int, ...],
) -> None:
    """On a daylight-saving change the Berlin day is 23 or 25 hours long: its first and
    last minutes count, the minutes either side of it do not."""
    opened = [
        (name, datetime(2025, *t, tzinfo=UTC))
        for name, t in (("before", before), ("first", first), ("last", last), ("after", after))
    ]
    found = _campaigns_by_day(url, opened, [day], [ZoneInfo("Europe/Berlin")])
    assert found == {("Europe/Berlin", day): {"first", "last"}}


_OLD_DECISION = (
    "INSERT INTO decisions (id, customer_id, site, tier, confidence, score, cues, reasons, "
    "holdout, degraded, created_at) VALUES ('d1', 'c1', 'paris', 'vip', 0.9, 0.9, '[]', "
    "'[]', false, false, :t)"
)
_OLD_VISIT = (
    "INSERT INTO visits (site, ticket, decision_id, opened_at) VALUES ('paris', 7, 'd1', :t)"
)


def _migrate(url: str, revision: str, *statements: str, down: bool = False) -> None:
    """Move the database at ``url`` to ``revision`` (an older release's schema), then run
    ``statements`` (with ``:t``, a fixed time) in the same transaction."""
    database = Database(url)
    try:
        with database.write() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            (command.downgrade if down else command.upgrade)(config, revision)
            for sql in statements:
                conn.execute(sa.text(sql), {"t": datetime(2025, 11, 26, tzinfo=UTC)})
    finally:
        database.dispose()


def test_a_database_at_the_first_revision_upgrades_keeping_its_visits(url: str) -> None:
    """A store created by the previous release (revision 0001) opens, gains the display's
    columns, and its open visit is still listed."""
    _migrate(url, "0001", _OLD_DECISION, _OLD_VISIT)
    with Store.open(url) as store:
        [view] = store.list_open_visits("paris")
    assert view["ticket"] == 7 and view["tier"] == "vip" and view["source"] is None


def test_a_database_at_revision_0002_drops_the_decision_indexes_and_keeps_its_decisions(
    url: str,
) -> None:
    """Revision 0003 drops the decisions' customer and time indexes, which nothing reads;
    the decisions stay, and going back to 0002 builds the indexes again."""
    dropped = {"ix_decisions_customer_id", "ix_decisions_created_at"}

    def decision_indexes() -> set[str]:
        engine = sa.create_engine(url)
        try:
            return {i["name"] for i in sa.inspect(engine).get_indexes("decisions")}
        finally:
            engine.dispose()

    _migrate(url, "0002", _OLD_DECISION)
    assert decision_indexes() >= dropped
    with Store.open(url) as store:
        kept = store.get_decision("d1")
        assert kept is not None and kept["customer_id"] == "c1"
        assert store.get_decision(_decide(store)) is not None
    assert decision_indexes() & dropped == set()
    _migrate(url, "0002", down=True)
    assert decision_indexes() >= dropped


_OLD_OUTCOME = (
    "INSERT INTO outcomes (id, idempotency_key, request_hash, decision_id, spend, accepted, "
    "declined, created_at) VALUES ('o1', 'till3-0001', :hash, 'd1', 12.5, '[]', '[]', :t)"
)
# An older close that sent the same key for another ticket, as 0003 let a client do.
_OLD_REUSED_CLOSE_KEY = (
    "INSERT INTO visits (site, ticket, decision_id, opened_at, closed_at, spend, close_key) "
    "VALUES ('paris', 9, 'd1', :t, :t, 5.0, 'till3-0002')"
)
_OLD_CLOSED_VISIT = (
    "INSERT INTO visits (site, ticket, decision_id, opened_at, closed_at, spend, close_key, "
    "override_tier, override_reason, override_key) VALUES ('paris', 8, 'd1', :t, :t, 30.0, "
    "'till3-0002', 'student', 'card', 'till3-0003')"
)


def test_a_database_at_revision_0003_scopes_its_idempotency_keys_to_the_site(url: str) -> None:
    """Revision 0004 gives each stored outcome its decision's site and keeps every key:
    retries of the stored outcome, close and override replay, another site may use the same
    keys (a close key an older visit shared stays with the newest), and going back to 0003
    (then forward again) keeps the outcome."""
    body = {"decision_id": "d1", "spend": 12.5, "accepted": [], "declined": []}
    body |= {"converted": None, "note": None}
    old_outcome = _OLD_OUTCOME.replace(":hash", f"'{request_hash(body)}'")
    old_visits = (_OLD_VISIT, _OLD_REUSED_CLOSE_KEY, _OLD_CLOSED_VISIT)
    _migrate(url, "0003", _OLD_DECISION, old_outcome, *old_visits)
    with Store.open(url) as store:
        kept = store.get_outcome("paris", "till3-0001")
        assert kept is not None and kept["id"] == "o1" and kept["spend"] == 12.5
        assert store.record_outcome(site="paris", idempotency_key="till3-0001", body=body) == (
            kept,
            True,
        )
        closed = store.close_visit("paris", 8, spend=30.0, idempotency_key="till3-0002")
        assert closed["closed_at"] is not None and closed["tier"] == "student"
        again, replay = store.override_visit(
            "paris", 8, tier="student", reason="card", actor="k", idempotency_key="till3-0003"
        )
        assert replay and again == closed
        assert store.get_visit("paris", 9)["spend"] == 5.0
        [open_visit] = store.list_open_visits("paris")
        assert open_visit["ticket"] == 7
        lyon = {**body, "decision_id": _decide(store, site="lyon")}
        _, replay = store.record_outcome(site="lyon", idempotency_key="till3-0001", body=lyon)
        assert replay is False
    # 0003 holds each outcome key once: going back is refused while two sites share one.
    with pytest.raises(StoreError, match="till3-0001"):
        _migrate(url, "0003", down=True)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM outcomes WHERE id <> 'o1'"))
        _migrate(url, "0003", down=True)
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, idempotency_key FROM outcomes")).all()
            outcome_columns = {c["name"] for c in sa.inspect(conn).get_columns("outcomes")}
            unique = sa.inspect(conn).get_unique_constraints("outcomes")
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [("o1", "till3-0001")] and "site" not in outcome_columns
    assert [u["column_names"] for u in unique] == [["idempotency_key"]]
    with Store.open(url) as store:  # and forward again
        assert store.get_outcome("paris", "till3-0001") == kept
