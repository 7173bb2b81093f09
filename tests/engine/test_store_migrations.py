"""A store written by an older release opens at the newest revision with its data kept, and
the revisions that can go back do so."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.engine.conftest import migrate_to, store_decision
from tierline.engine.errors import StoreError
from tierline.engine.store import Store, request_hash

_OLD_DECISION = (
    "INSERT INTO decisions (id, customer_id, site, tier, confidence, score, cues, reasons, "
    "holdout, degraded, created_at) VALUES ('d1', 'c1', 'paris', 'vip', 0.9, 0.9, '[]', "
    "'[]', false, false, :t)"
)
_OLD_VISIT = (
    "INSERT INTO visits (site, ticket, decision_id, opened_at) VALUES ('paris', 7, 'd1', :t)"
)


def test_a_database_at_the_first_revision_upgrades_keeping_its_visits(url: str) -> None:
    """A store created by the previous release (revision 0001) opens, gains the display's
    columns, and its open visit is still listed."""
    migrate_to(url, "0001", _OLD_DECISION, _OLD_VISIT)
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

    migrate_to(url, "0002", _OLD_DECISION)
    assert decision_indexes() >= dropped
    with Store.open(url) as store:
        kept = store.get_decision("d1")
        assert kept is not None and kept["customer_id"] == "c1"
        assert store.get_decision(store_decision(store)) is not None
    assert decision_indexes() & dropped == set()
    migrate_to(url, "0002", down=True)
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
    migrate_to(url, "0003", _OLD_DECISION, old_outcome, *old_visits)
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
        lyon = {**body, "decision_id": store_decision(store, site="lyon")}
        _, replay = store.record_outcome(site="lyon", idempotency_key="till3-0001", body=lyon)
        assert replay is False
    # 0003 holds each outcome key once: going back is refused while two sites share one.
    with pytest.raises(StoreError, match="till3-0001"):
        migrate_to(url, "0003", down=True)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM outcomes WHERE id <> 'o1'"))
        migrate_to(url, "0003", down=True)
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
