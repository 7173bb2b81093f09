"""The decision log: each decision keeps the signals it was decided on, read back by window,
on SQLite and PostgreSQL; retention and erasure clear the signals and keep the figures."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from tests.conftest import VIP, Trained
from tierline.engine.decisions import Fallback, check_in, decide, decide_many
from tierline.engine.registry import Registry
from tierline.engine.store import Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WALK_IN = {k: v for k, v in VIP.items() if k != "party_size"}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _logged(store: Store, **window: datetime) -> list[dict]:
    return [row for page in store.logged_decisions(**window) for row in page]


def test_every_decision_path_logs_the_merged_signals(trained: Trained, url: str) -> None:
    """Single, batch and check-in decisions each keep the stored profile merged with the
    request (the request wins), with tier, version, holdout and the perks taken."""
    model = Registry(trained.models).load()
    fallback = Fallback(default_tier="standard", playbook=model.playbook)
    with Store.open(url) as store:
        store.sync_perks(model.playbook.perks)
        store.upsert_customer("c1", {"visits_90d": 3, "channel": "email"}, scope="")
        one = decide(
            store=store,
            model=model,
            fallback=fallback,
            site="lyon",
            customer_id="c1",
            signals={"visits_90d": 12},
        )
        many = decide_many(
            store=store, model=model, fallback=fallback, site="lyon", requests=[(None, VIP)] * 2
        )
        _, visit = check_in(
            store=store, model=model, fallback=fallback, site="lyon", signals=WALK_IN, party_size=3
        )
        degraded = decide(store=store, model=None, fallback=fallback, site="nice", signals=VIP)
        logged = {row["decision_id"]: row for row in _logged(store)}

    ids = [one["decision_id"], *(d["decision_id"] for d in many), visit["decision_id"]]
    assert list(logged) == sorted(logged) and set(logged) == {*ids, degraded["decision_id"]}
    first = logged[one["decision_id"]]
    assert first["signals"] == {"visits_90d": 12, "channel": "email"}
    assert first["customer_id"] == "c1" and first["site"] == "lyon"
    assert first["tier"] == one["tier"] and first["model_version"] == model.version
    assert first["decided_at"].tzinfo is not None
    assert logged[visit["decision_id"]]["signals"] == {**WALK_IN, "party_size": 3}
    for d in many:
        row = logged[d["decision_id"]]
        assert row["signals"] == VIP and row["holdout"] == d["holdout"]
        assert row["perks"] == [c["perk"] for c in d["cues"] if c["perk"]]
    assert logged[degraded["decision_id"]]["model_version"] is None


def test_a_window_reads_only_its_decisions_across_pages(url: str) -> None:
    """``since`` is inclusive, ``until`` exclusive, and a read walks every page in order."""
    clock = Clock()
    item = {
        "site": "paris",
        "tier": "standard",
        "confidence": 0.5,
        "score": 0.5,
        "cues": [],
        "reasons": [],
        "model_version": "v0001",
        "holdout": False,
        "degraded": False,
    }
    with Store.open(url, clock=clock) as store:
        days = {}
        for day in range(4):
            clock.now = T0 + timedelta(days=day)
            batch = [
                {**item, "customer_id": f"d{day}-{i}", "signals": {"day": day, "i": i}}
                for i in range(7)
            ]
            days[day] = store.record_decisions(batch)
        window = _logged(store, since=T0 + timedelta(days=1), until=T0 + timedelta(days=3))
        paged = [
            len(p) for p in store.logged_decisions(since=T0 + timedelta(days=1), until=None, page=4)
        ]
        everything = _logged(store)

    assert [row["decision_id"] for row in window] == sorted(days[1] + days[2])
    assert {row["signals"]["day"] for row in window} == {1, 2}
    assert paged == [4, 4, 4, 4, 4, 1]
    assert len(everything) == 28


def test_retention_and_erasure_clear_logged_signals(url: str) -> None:
    """Pruned and erased decisions stay in the log with their figures, signals cleared."""
    clock = Clock()
    item = {
        "site": "paris",
        "tier": "vip",
        "confidence": 0.9,
        "score": 0.9,
        "cues": [],
        "reasons": [],
        "model_version": "v0001",
        "holdout": False,
        "degraded": False,
        "signals": {"car_brand": "Porsche"},
    }
    with Store.open(url, clock=clock) as store:
        [old] = store.record_decisions([{**item, "customer_id": "old"}])
        time.sleep(0.002)  # retention walks ids, which follow time to the millisecond
        clock.now = T0 + timedelta(days=40)
        [erased, kept] = store.record_decisions(
            [{**item, "customer_id": "gone"}, {**item, "customer_id": "kept"}]
        )
        store.prune_signals(older_than=T0 + timedelta(days=30))
        store.erase_customer("gone", actor="cli")
        logged = {row["decision_id"]: row for row in _logged(store)}

    assert logged[old]["signals"] is None and logged[old]["tier"] == "vip"
    assert logged[erased]["signals"] is None and logged[erased]["customer_id"] is None
    assert logged[kept]["signals"] == {"car_brand": "Porsche"}


def test_signals_from_a_data_frame_are_logged_as_json(trained: Trained, url: str) -> None:
    """Signals read from a data frame (the demo's check-ins) can hold pandas times and
    numpy numbers; the log keeps them as ISO text and plain numbers."""
    import numpy as np
    import pandas as pd

    model = Registry(trained.models).load()
    fallback = Fallback(default_tier="standard", playbook=model.playbook)
    signals = {
        **WALK_IN,
        "signup_date": pd.Timestamp("2025-04-01"),
        "table": np.int64(4),  # a signal no feature reads, kept as sent
    }
    with Store.open(url) as store:
        store.sync_perks(model.playbook.perks)
        decided = decide(store=store, model=model, fallback=fallback, site="s", signals=signals)
        [row] = _logged(store)
    assert row["decision_id"] == decided["decision_id"]
    assert row["signals"]["signup_date"] == "2025-04-01T00:00:00"
    assert row["signals"]["table"] == 4
