"""Measured uplift: Welch and two-proportion intervals computed by hand, the report's
definitions on a tiny table, a seeded simulation whose true effect the interval covers,
and the report read from the store on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tierline.engine.playbook import Perk
from tierline.engine.store import Store
from tierline.engine.uplift import (
    first_decisions,
    mean_difference,
    measure_uplift,
    rate_difference,
    uplift_table,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_the_welch_interval_matches_a_hand_computation() -> None:
    """[1, 2, 3, 4] against [2, 4]: difference -0.5, standard error sqrt(5/12 + 1), so
    -0.5 ± 1.959964 x 1.190238."""
    got = mean_difference([1.0, 2.0, 3.0, 4.0], [2.0, 4.0])
    assert got.estimate == pytest.approx(-0.5)
    assert got.low == pytest.approx(-2.832824, abs=1e-6)
    assert got.high == pytest.approx(1.832824, abs=1e-6)


def test_the_proportion_interval_matches_a_hand_computation() -> None:
    """3 of 4 against 1 of 4: difference 0.5, standard error sqrt(2 x 0.75 x 0.25 / 4),
    so 0.5 ± 1.959964 x 0.306186."""
    got = rate_difference([True, True, True, False], [True, False, False, False])
    assert got.estimate == pytest.approx(0.5)
    assert got.low == pytest.approx(-0.100114, abs=1e-6)
    assert got.high == pytest.approx(1.100114, abs=1e-6)


def _frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """Decisions as (customer, minutes after T0, tier, holdout, perks, spend, converted)."""
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "site": "lyon",
            "decided_at": [T0 + timedelta(minutes=r[1]) for r in rows],
            "tier": [r[2] for r in rows],
            "holdout": [r[3] for r in rows],
            "perks": [r[4] for r in rows],
            "spend": pd.array([r[5] for r in rows], dtype="Float64"),
            "converted": pd.array([r[6] for r in rows], dtype="boolean"),
        }
    )


TINY = [
    ("t1", 5, "vip", False, "coffee", 30.0, True),
    ("t1", 0, "vip", False, "coffee|dessert", 40.0, None),  # earlier: this one counts
    ("t2", 1, "vip", False, "coffee", 20.0, None),  # unknown: not converted
    ("t3", 2, "vip", False, "", None, None),  # no result: spend 0
    ("h1", 3, "vip", True, "", 10.0, True),
    ("h2", 4, "vip", True, "", None, False),
    (None, 6, "vip", False, "coffee", 500.0, True),  # anonymous: never held out, left out
    ("s1", 7, "standard", False, "", 12.0, True),
]


def test_a_customer_counts_once_by_their_first_decision() -> None:
    """The first decision of a customer in time decides their arm and result; anonymous
    decisions are dropped."""
    first = first_decisions(_frame(TINY)).set_index("customer_id")
    assert sorted(first.index) == ["h1", "h2", "s1", "t1", "t2", "t3"]
    assert first.loc["t1", "spend"] == 40.0 and first.loc["t1", "perks"] == "coffee|dessert"


def test_the_table_follows_the_definitions_on_a_tiny_log() -> None:
    """Per tier and per perk: customers, conversion (unknown as not converted), spend per
    customer (no result as 0), the differences, and net value after the cost difference;
    an arm under the minimum gets the counts and no figure."""
    costs = {"coffee": 2.5, "dessert": 4.0}
    report = uplift_table(_frame(TINY), costs=costs, min_customers=1)
    assert report["customers"] == 6 and report["anonymous_decisions"] == 1
    rows = {(r["tier"], r["perk"]): r for r in report["rows"]}
    assert list(rows) == [
        ("standard", None),
        ("vip", None),
        ("vip", "coffee"),
        ("vip", "dessert"),
    ]
    vip = rows[("vip", None)]
    assert vip["treated"] == {"customers": 3, "conversion_rate": 0.0, "spend_per_customer": 20.0}
    assert vip["holdout"] == {"customers": 2, "conversion_rate": 0.5, "spend_per_customer": 5.0}
    assert vip["spend_difference"] == mean_difference([40.0, 20.0, 0.0], [10.0, 0.0]).as_dict()
    assert vip["conversion_difference"]["estimate"] == pytest.approx(-0.5)
    assert vip["cost_per_customer"] == pytest.approx((6.5 + 2.5) / 3)
    assert vip["net_value"]["estimate"] == pytest.approx(15.0 - 3.0)
    assert vip["net_value"]["high"] - vip["net_value"]["estimate"] == pytest.approx(
        vip["spend_difference"]["high"] - vip["spend_difference"]["estimate"]
    )
    coffee = rows[("vip", "coffee")]
    assert coffee["treated"]["customers"] == 2 and coffee["holdout"]["customers"] == 2
    assert coffee["net_value"]["estimate"] == pytest.approx(30.0 - 5.0 - 4.5)
    dessert = rows[("vip", "dessert")]
    assert not dessert["enough_data"] and dessert["treated"]["customers"] == 1
    assert dessert["spend_difference"] is None and dessert["net_value"] is None
    assert dessert["treated"]["spend_per_customer"] is None
    assert "not enough data yet: 1 treated and 2 holdout" in dessert["note"]
    standard = rows[("standard", None)]
    assert standard["holdout"]["customers"] == 0 and standard["conversion_difference"] is None


def test_under_the_default_minimum_nothing_but_counts_is_reported() -> None:
    """Below 30 customers in an arm, no row carries a rate, a spend or a difference."""
    report = uplift_table(_frame(TINY), costs={})
    assert report["min_customers"] == 30
    for row in report["rows"]:
        assert not row["enough_data"] and row["note"].startswith("not enough data yet")
        assert row["treated"]["conversion_rate"] is None and row["net_value"] is None


def _simulated(seed: int, *, treated: int, held: int) -> pd.DataFrame:
    """A randomized log: the perk raises mean spend from 40 to 46 (skewed, gamma) and
    conversion from 0.30 to 0.38."""
    rng = np.random.default_rng(seed)
    holdout = np.arange(treated + held) >= treated
    spend = np.where(
        holdout, rng.gamma(2.0, 20.0, holdout.size), rng.gamma(2.0, 23.0, holdout.size)
    )
    converted = rng.random(holdout.size) < np.where(holdout, 0.30, 0.38)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(holdout.size)],
            "site": "lyon",
            "decided_at": T0,
            "tier": "vip",
            "holdout": holdout,
            "perks": np.where(holdout, "", "coffee"),
            "spend": spend,
            "converted": converted,
        }
    )


def test_a_simulated_effect_is_covered_by_its_interval() -> None:
    """On a seeded randomized log whose true effects are known (+6 spend, +0.08 conversion,
    a 2.5 perk), the report's intervals cover them and exclude no effect at all."""
    # Any seed's 95 % intervals miss about one time in twenty; the next test counts that.
    report = uplift_table(_simulated(1, treated=4000, held=800), costs={"coffee": 2.5})
    coffee = next(r for r in report["rows"] if r["perk"] == "coffee")
    spend, rate, net = (
        coffee[k] for k in ("spend_difference", "conversion_difference", "net_value")
    )
    assert spend["low"] <= 6.0 <= spend["high"] and spend["low"] > 0
    assert rate["low"] <= 0.08 <= rate["high"] and rate["low"] > 0
    assert net["low"] <= 3.5 <= net["high"]
    assert coffee["cost_per_customer"] == 2.5


def test_the_intervals_cover_the_truth_about_95_times_in_100() -> None:
    """Over 400 seeded experiments of 300 treated and 60 holdout customers, the spend and
    conversion intervals each cover the true effect in 92 % to 98 % of them."""
    spend_hits = rate_hits = 0
    for seed in range(400):
        frame = _simulated(seed, treated=300, held=60)
        treated, held = frame[~frame["holdout"]], frame[frame["holdout"]]
        spend = mean_difference(treated["spend"], held["spend"])
        rate = rate_difference(treated["converted"], held["converted"])
        spend_hits += spend.low <= 6.0 <= spend.high
        rate_hits += rate.low <= 0.08 <= rate.high
    assert 0.92 <= spend_hits / 400 <= 0.98
    assert 0.92 <= rate_hits / 400 <= 0.98


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


COFFEE = {"code": "welcome_coffee", "text": "Offer a coffee on the house", "perk": "coffee"}


def test_the_report_reads_the_store_at_one_site(url: str) -> None:
    """From the store: each decision's own outcome is its result, a customer's later
    decision and another site's decisions do not count, perks cost what the perks table
    says."""
    clock = Clock()
    with Store.open(url, clock=clock) as store:
        store.sync_perks({"coffee": Perk("coffee", cost=2.5, stock=None, daily_budget=None)})

        def decide(customer: str | None, holdout: bool, cues: list[Any], site: str = "lyon") -> str:
            clock.now += timedelta(minutes=1)
            [decision] = store.record_decisions(
                [
                    {
                        "customer_id": customer,
                        "site": site,
                        "tier": "vip",
                        "confidence": 0.9,
                        "score": 0.8,
                        "cues": cues,
                        "reasons": [],
                        "model_version": "v0001",
                        "holdout": holdout,
                        "degraded": False,
                    }
                ]
            )
            return decision

        def outcome(decision: str, spend: float | None, converted: bool | None) -> None:
            body = {"decision_id": decision, "spend": spend, "accepted": [], "declined": []}
            body |= {"converted": converted, "note": None}
            store.record_outcome(site="lyon", idempotency_key=decision, body=body)

        outcome(decide("t1", False, [COFFEE]), 30.0, True)
        outcome(decide("t2", False, [COFFEE]), 20.0, None)
        decide("t3", False, [])
        outcome(decide("h1", True, []), 10.0, True)
        outcome(decide("h2", True, []), None, False)
        outcome(decide("t1", False, [COFFEE]), 1000.0, True)  # later: not counted
        outcome(decide(None, False, [COFFEE]), 500.0, True)
        decide("h3", True, [], site="paris")
        report = measure_uplift(store, site="lyon", min_customers=2)
        assert measure_uplift(store, site="lyon", until=T0 + timedelta(minutes=3))["customers"] == 2
    rows = {r["perk"]: r for r in report["rows"]}
    assert report["customers"] == 5 and report["anonymous_decisions"] == 1
    vip, coffee = rows[None], rows["coffee"]
    assert vip["treated"]["spend_per_customer"] == pytest.approx(50.0 / 3)
    assert vip["treated"]["conversion_rate"] == pytest.approx(1 / 3)
    assert vip["holdout"] == {"customers": 2, "conversion_rate": 0.5, "spend_per_customer": 5.0}
    assert coffee["spend_difference"] == mean_difference([30.0, 20.0], [10.0, 0.0]).as_dict()
    assert coffee["net_value"]["estimate"] == pytest.approx(20.0 - 2.5)
    assert vip["cost_per_customer"] == pytest.approx(5.0 / 3)
