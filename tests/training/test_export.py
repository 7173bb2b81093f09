"""Export: the decision log as training rows, labelled only by what came after each
decision, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tierline.engine.store import Store
from tierline.training.export import export, export_frame

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _decide(store: Store, clock: Clock, at: datetime, customer: str | None, **signals: Any) -> str:
    clock.now = at
    return store.record_decision(
        customer_id=customer,
        site="lyon",
        tier="vip",
        confidence=0.9,
        score=0.8,
        cues=[],
        reasons=[],
        model_version="v0001",
        holdout=False,
        degraded=False,
        signals=signals or None,
    )


def _outcome(store: Store, clock: Clock, at: datetime, decision: str, **body: Any) -> None:
    clock.now = at
    full = {"decision_id": decision, "spend": None, "accepted": [], "declined": []}
    full |= {"converted": None, "note": None, **body}
    store.record_outcome(site="lyon", idempotency_key=f"{decision}-{at.isoformat()}", body=full)


def test_rows_are_labelled_only_by_what_came_after(url: str) -> None:
    """A decision's spend is its own outcome's, and the horizon counts only the customer's
    later decisions with a result within N days: an earlier outcome, one past the horizon,
    another customer's, or one at another site never labels it."""
    clock = Clock()
    day = timedelta(days=1)
    with Store.open(url, clock=clock) as store:
        earlier = _decide(store, clock, T0 - 5 * day, "c1", visits_90d=1)
        first = _decide(store, clock, T0, "c1", visits_90d=2, channel="email")
        _outcome(store, clock, T0 + timedelta(hours=1), earlier, spend=99.0, converted=True)
        _outcome(store, clock, T0 + timedelta(hours=2), first, spend=40.0, converted=True)
        back = _decide(store, clock, T0 + 3 * day, "c1", visits_90d=3)
        _outcome(store, clock, T0 + 3 * day, back, spend=25.0)
        lookup = _decide(store, clock, T0 + 4 * day, "c1")  # a look-up that led to nothing
        late = _decide(store, clock, T0 + 40 * day, "c1")
        _outcome(store, clock, T0 + 40 * day, late, spend=500.0)
        other = _decide(store, clock, T0 + 2 * day, "c2", visits_90d=8)
        _outcome(store, clock, T0 + 2 * day, other, spend=70.0, converted=False)
        store.record_decision(
            customer_id="c1",
            site="nice",
            tier="vip",
            confidence=0.9,
            score=0.8,
            cues=[],
            reasons=[],
            model_version="v0001",
            holdout=False,
            degraded=False,
        )
        frame = export_frame(store, horizon_days=30, now=T0 + 100 * day).set_index("decision_id")

    row = frame.loc[first]
    assert row["spend"] == 40.0
    assert frame.loc[[first, other], "converted"].tolist() == [True, False]
    assert row["visits_next_30d"] == 1 and row["spend_next_30d"] == 25.0
    assert row["visits_90d"] == 2 and row["channel"] == "email"
    assert frame.loc[earlier, "spend"] == 99.0 and frame.loc[earlier, "visits_next_30d"] == 2
    assert frame.loc[back, "visits_next_30d"] == 0 and pd.isna(frame.loc[back, "converted"])
    assert pd.isna(frame.loc[lookup, "spend"])
    assert frame.loc[lookup, "visits_next_30d"] == 0
    assert frame.loc[other, "visits_next_30d"] == 0
    assert list(frame.columns[:8]) == [
        "customer_id",
        "site",
        "decided_at",
        "tier",
        "score",
        "model_version",
        "holdout",
        "perks",
    ]


def test_the_horizon_stays_empty_until_it_has_passed(url: str) -> None:
    """Rows whose horizon ends after now, and anonymous decisions, have empty horizon
    columns, so they never train; the window's last decisions are still labelled by
    decisions after ``until``."""
    clock = Clock()
    day = timedelta(days=1)
    with Store.open(url, clock=clock) as store:
        old = _decide(store, clock, T0, "c1")
        anonymous = _decide(store, clock, T0, None, visits_90d=0)
        follow = _decide(store, clock, T0 + 5 * day, "c1")
        _outcome(store, clock, T0 + 5 * day, follow, spend=12.5)
        recent = _decide(store, clock, T0 + 20 * day, "c1")
        frame = export_frame(store, until=T0 + day, horizon_days=10, now=T0 + 25 * day).set_index(
            "decision_id"
        )
        whole = export_frame(store, horizon_days=10, now=T0 + 25 * day).set_index("decision_id")

    assert set(frame.index) == {old, anonymous}
    assert frame.loc[old, "spend_next_10d"] == 12.5
    assert pd.isna(frame.loc[anonymous, "visits_next_10d"])
    assert pd.isna(whole.loc[recent, "visits_next_10d"])
    assert whole.loc[follow, "visits_next_10d"] == 0


def test_a_closed_visit_labels_its_decision(url: str) -> None:
    """Without an outcome, a check-in's closed visit gives the decision its spend and
    counts as converted; an open one leaves them empty."""
    clock = Clock()
    with Store.open(url, clock=clock) as store:
        closed = _decide(store, clock, T0, "c1")
        store.open_visit(
            site="lyon", ticket_range=(1, 99), decision_id=closed, customer_id="c1", party_size=2
        )
        still_open = _decide(store, clock, T0 + timedelta(minutes=5), "c2")
        store.open_visit(
            site="lyon",
            ticket_range=(1, 99),
            decision_id=still_open,
            customer_id="c2",
            party_size=1,
        )
        store.close_visit("lyon", 1, spend=63.0)
        frame = export_frame(store, horizon_days=7, now=T0).set_index("decision_id")

    assert frame.loc[closed, "spend"] == 63.0 and frame.loc[[closed], "converted"].tolist() == [
        True
    ]
    assert pd.isna(frame.loc[still_open, "spend"]) and pd.isna(frame.loc[still_open, "converted"])


@pytest.mark.parametrize("name", ["decisions.csv", "decisions.parquet"])
def test_export_writes_a_table_training_reads(tmp_path: Path, name: str) -> None:
    """The file holds every decision with its signals as columns, mixed-kind signals as
    text, and a signal named like an export column under a prefix."""
    clock = Clock()
    with Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}", clock=clock) as store:
        _decide(store, clock, T0, "c1", visits_90d=2, code="A1", tier="gold")
        _decide(store, clock, T0, "c2", visits_90d=5, code=7)
        summary = export(store, tmp_path / name, horizon_days=30, now=T0 + timedelta(days=31))
    read = (
        pd.read_parquet(tmp_path / name)
        if name.endswith("parquet")
        else pd.read_csv(tmp_path / name, dtype={"code": str})
    ).sort_values("customer_id")
    assert summary == {
        "rows": 2,
        "with_result": 0,
        "matured": 2,
        "signals": 3,
        "horizon_days": 30,
    }
    assert list(read["code"]) == ["A1", "7"] and list(read["signal_tier"].fillna("")) == [
        "gold",
        "",
    ]
    assert list(read["visits_90d"]) == [2, 5] and list(read["tier"]) == ["vip", "vip"]


def test_an_empty_window_exports_no_rows(url: str) -> None:
    """A window without decisions (or an empty store) is an empty table, not a failure."""
    clock = Clock()
    with Store.open(url, clock=clock) as store:
        assert len(export_frame(store)) == 0
        _decide(store, clock, T0, "c1")
        assert len(export_frame(store, since=T0 + timedelta(days=1))) == 0
