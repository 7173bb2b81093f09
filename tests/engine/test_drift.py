"""Drift: the training profile, the PSI per signal against a hand computation, the bands,
missing values, unseen categories, the small-sample answer and the window."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tierline.engine.drift import (
    EPSILON,
    MIN_DECISIONS,
    band,
    drift_report,
    drift_window,
    profile,
    psi,
    training_profile,
)
from tierline.engine.errors import ArtifactError, DataError
from tierline.engine.spec import parse_spec

SPEC = parse_spec(
    {
        "data": {"id": "id"},
        "features": {"categorical": ["city"], "numeric": ["visits"], "boolean": ["member"]},
        "target": {"kind": "class", "column": "tier"},
        "tiers": {"names": ["vip", "standard"], "default": "standard"},
    }
)


def _frame() -> pd.DataFrame:
    """Ten rows: visits 1..9 and one missing; cities a (5), b (3), c (1), missing (1)."""
    return pd.DataFrame(
        {
            "id": [str(i) for i in range(10)],
            "city": ["a"] * 5 + ["b"] * 3 + ["c", None],
            "visits": [float(v) for v in range(1, 10)] + [np.nan],
            "member": [1.0, 0.0] * 4 + [np.nan, 1.0],
        }
    )


def _by_signal(report: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["signal"]: r for r in report}


def test_the_profile_holds_quantile_bins_category_shares_and_missing_shares() -> None:
    """Numbers get deduplicated quantile edges with a share per bin and a missing share;
    categories and booleans their shares, (other) and missing; all of it plain JSON."""
    made = profile(_frame(), SPEC)
    json.dumps(made, allow_nan=False)
    visits = made["signals"]["visits"]
    assert visits["kind"] == "numeric"
    assert visits["edges"] == sorted(set(visits["edges"])) and len(visits["edges"]) <= 9
    assert visits["shares"][-1] == pytest.approx(0.1) and sum(visits["shares"]) == pytest.approx(1)
    city = made["signals"]["city"]
    assert city["categories"] == ["a", "b", "c"]
    assert city["shares"] == pytest.approx([0.5, 0.3, 0.1, 0.0, 0.1])
    member = made["signals"]["member"]
    assert member["categories"] == ["true", "false"]
    assert member["shares"] == pytest.approx([0.5, 0.4, 0.0, 0.1])
    assert made["rows"] == 10


def test_a_profile_of_some_rows_is_the_profile_of_those_rows_alone() -> None:
    """``rows`` (positions, as training passes its split) gives the same profile as the
    frame cut to those rows."""
    frame = _frame()
    rows = np.array([0, 2, 5, 6, 9])
    alone = frame.iloc[rows].reset_index(drop=True)
    assert profile(frame, SPEC, rows=rows) == profile(alone, SPEC)


def test_rare_categories_are_pooled_as_other() -> None:
    """Past the ten most frequent categories the rest share one (other) bin."""
    frame = _frame().iloc[[0] * 30].reset_index(drop=True)
    frame["city"] = [f"city{i % 15}" for i in range(30)]  # fifteen cities, two rows each
    city = profile(frame, SPEC)["signals"]["city"]
    assert len(city["categories"]) == 10
    assert city["shares"][-2] == pytest.approx(10 / 30)


def test_psi_matches_a_hand_computation() -> None:
    """PSI sums (a - e) ln(a / e) over the bins, an empty bin counted as EPSILON."""
    made = profile(_frame(), SPEC)
    # 200 decisions: a 100, b 40, an unseen city 20, no city 40.
    rows = (
        [{"city": "a"}] * 100 + [{"city": "b"}] * 40 + [{"city": "z"}] * 20 + [{"city": None}] * 40
    )
    city = _by_signal(psi(made, rows))["city"]
    expected = (0.2 - 0.3) * math.log(0.2 / 0.3)
    expected += (EPSILON - 0.1) * math.log(EPSILON / 0.1)  # c: none in the window
    expected += (0.1 - EPSILON) * math.log(0.1 / EPSILON)  # (other): none in training
    expected += (0.2 - 0.1) * math.log(0.2 / 0.1)  # missing
    assert city["psi"] == pytest.approx(expected)
    assert [b["window"] for b in city["bins"]] == pytest.approx([0.5, 0.2, 0.0, 0.1, 0.2])
    assert city["missing_share"] == pytest.approx(0.2)
    assert city["training_missing_share"] == pytest.approx(0.1)
    assert city["rows"] == 200


def test_the_training_rows_themselves_do_not_drift() -> None:
    """The rows a profile was made from, sent as the API stores signals, give a PSI of 0."""
    frame = _frame()
    rows = [
        {
            "city": r.city,
            "visits": None if math.isnan(r.visits) else int(r.visits),
            "member": None if math.isnan(r.member) else bool(r.member),
        }
        for r in frame.itertuples()
    ]
    for report in psi(profile(frame, SPEC), rows):
        assert report["psi"] == pytest.approx(0.0, abs=1e-12) and report["band"] == "stable"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.0, "stable"), (0.0999, "stable"), (0.1, "watch"), (0.2499, "watch"), (0.25, "act")],
)
def test_bands(value: float, expected: str) -> None:
    """Below 0.1 stable, from 0.1 watch, from 0.25 act."""
    assert band(value) == expected


def test_missing_values_in_every_spelling_count_as_missing() -> None:
    """An absent signal, None, NaN, a missing marker and an unreadable number or boolean
    all land in the missing bin; numbers sent as text and categories sent as numbers read
    as the feature builder reads them."""
    frame = _frame()
    frame["city"] = ["12"] * 10
    made = profile(frame, SPEC)
    missing = [{}, {"visits": None}, {"visits": float("nan")}, {"visits": "n/a"}]
    missing += [{"visits": "lots", "member": "perhaps"}]
    report = _by_signal(psi(made, missing))
    assert report["visits"]["missing_share"] == 1.0
    assert report["member"]["missing_share"] == 1.0
    read = _by_signal(psi(made, [{"visits": "3", "city": 12, "member": "yes"}]))
    assert read["city"]["bins"][0] == {"bin": "12", "training": 1.0, "window": 1.0}
    assert read["member"]["bins"][0]["window"] == 1.0  # "true"
    visits = read["visits"]["bins"]
    assert [b["window"] for b in visits if b["window"]] == [1.0]
    assert visits[[b["window"] for b in visits].index(1.0)]["bin"] == "2 to 3"


def test_an_unseen_category_is_flagged_and_the_others_stay_stable() -> None:
    """A window whose cities are all new falls in (other) and acts; the signals that kept
    their distribution stay stable."""
    frame = _frame().iloc[list(range(10)) * 20].reset_index(drop=True)
    made = profile(frame, SPEC)
    rows = [
        {"city": "atlantis", "visits": r.visits, "member": r.member} for r in frame.itertuples()
    ]
    report = _by_signal(psi(made, rows))
    assert report["city"]["band"] == "act"
    assert report["city"]["bins"][-2] == {"bin": "(other)", "training": 0.0, "window": 1.0}
    assert report["visits"]["band"] == report["member"]["band"] == "stable"


def test_a_small_window_answers_with_a_message_not_figures() -> None:
    """Below the minimum sample the report has no figures and says why; at the minimum it
    has one entry per signal, most drifted first, and the worst band."""
    made = profile(_frame(), SPEC)
    window = {"since": dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "until": dt.datetime.now(dt.UTC)}
    few = [[{"signals": {"city": "a"}}] * (MIN_DECISIONS - 1), [{"signals": None}] * 50]
    small = drift_report(training=made, pages=few, model_version="v0001", **window)
    assert small["enough"] is False and small["signals"] == [] and small["band"] is None
    assert small["decisions"] == MIN_DECISIONS - 1
    assert "Not enough decisions yet" in small["message"]
    full = drift_report(
        training=made,
        pages=[[{"signals": {"city": "a"}}] * MIN_DECISIONS],
        model_version="v1",
        **window,
    )
    assert full["enough"] and full["message"] is None and len(full["signals"]) == 3
    psis = [s["psi"] for s in full["signals"]]
    assert psis == sorted(psis, reverse=True) and full["band"] == "act"


def test_a_version_without_a_profile_says_retrain() -> None:
    """Metadata without the drift profile (an older artifact) is an ArtifactError that
    says to retrain."""
    with pytest.raises(ArtifactError, match="retrain"):
        training_profile({"spec": {}}, "v0007")
    made = profile(_frame(), SPEC)
    assert training_profile({"drift": made}, "v0008") == made


def test_the_window_defaults_to_seven_days_and_refuses_an_empty_one() -> None:
    """No dates: the seven days up to now; since is its UTC midnight and until's day is
    included; since after until is a DataError."""
    now = dt.datetime(2026, 3, 9, 15, 30, tzinfo=dt.UTC)
    assert drift_window(since=None, until=None, now=now) == (now - dt.timedelta(days=7), now)
    start, end = drift_window(since=dt.date(2026, 3, 1), until=dt.date(2026, 3, 3), now=now)
    assert (start, end) == (
        dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 4, tzinfo=dt.UTC),
    )
    one_day = drift_window(since=dt.date(2026, 3, 3), until=dt.date(2026, 3, 3), now=now)
    assert one_day[1] - one_day[0] == dt.timedelta(days=1)
    assert drift_window(since=dt.date(2026, 3, 5), until=None, now=now)[1] == now
    assert drift_window(since=None, until=dt.date(2026, 3, 3), now=now)[0] == dt.datetime(
        2026, 2, 25, tzinfo=dt.UTC
    )
    with pytest.raises(DataError, match="since"):
        drift_window(since=dt.date(2026, 3, 4), until=dt.date(2026, 3, 3), now=now)
    for edge in ({"since": None, "until": dt.date.min}, {"since": None, "until": dt.date.max}):
        with pytest.raises(DataError, match="calendar"):
            drift_window(**edge, now=now)
