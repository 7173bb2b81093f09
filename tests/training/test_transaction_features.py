"""A transaction log -> one row of features per customer at a cut-off
(training.transactions): the cut-off, each feature's value, the per-customer columns."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from tests.training.conftest import AS_OF, NAN, log_spec, make_log
from tierline.engine.spec import TRANSACTION_FEATURES, parse_spec
from tierline.training.transactions import (
    LABEL_COLUMN,
    cutoff_instant,
    scoring_frame,
    training_frame,
)

# Hand-computed as of the cut-off 2026-04-01 00:00 (rows ordered by id: 00002, 00003, 00017).
EXPECTED_FEATURES: dict[str, list[float]] = {
    "recency_days": [0.25, 59.0, 30.0],
    "frequency": [1.0, 1.0, 5.0],
    "monetary_total": [40.0, 30.0, 147.0],
    "monetary_mean": [40.0, 30.0, 29.4],
    "max_ticket": [40.0, 30.0, 100.0],
    "tenure_days": [0.25, 59.0, 455.0],
    "mean_gap_days": [NAN, NAN, 106.25],  # 00017: (455 - 30) / 4
    "spend_30d": [40.0, 0.0, -20.0],
    "count_30d": [1.0, 0.0, 1.0],
    "spend_90d": [40.0, 30.0, 40.0],
    "count_90d": [1.0, 1.0, 3.0],
    "spend_365d": [40.0, 30.0, 47.0],
    "count_365d": [1.0, 1.0, 4.0],
    # Purchase days: 00017 bought on 2025-01-01, 2025-04-01, 2026-01-01, 2026-03-01 and
    # 2026-03-02 (gaps 90, 275, 59, 1); the cut-off's last day is 2026-03-31.
    "repeat_days": [0.0, 0.0, 4.0],
    "repeat_span_days": [0.0, 0.0, 425.0],
    "age_days": [0.0, 58.0, 454.0],
    "repeat_spend_mean": [NAN, NAN, 11.75],  # (7 + 50 + 10 - 20) / 4
    "gap_std_days": [NAN, NAN, math.sqrt((90**2 + 275**2 + 59**2 + 1) / 4 - 106.25**2)],
    "last_gap_days": [NAN, NAN, 1.0],
    "overdue_ratio": [NAN, NAN, 29 / 106.25],
    # (last - previous) / (|last| + |previous|): 00017 spent -20 then 10 in the two 30-day
    # windows (one bill each), 40 (three bills) then nothing in the two 90-day windows.
    "spend_trend_30d": [1.0, -1.0, -1.0],
    "count_trend_30d": [1.0, -1.0, 0.0],
    "spend_trend_90d": [1.0, 1.0, 1.0],
    "count_trend_90d": [1.0, 1.0, 1.0],
    # Without a fitted BG/NBD pair (only training fits one) the expectations are missing.
    "bgnbd_purchases": [NAN, NAN, NAN],
    "bgnbd_p_alive": [NAN, NAN, NAN],
    "gg_spend": [NAN, NAN, NAN],
    "btyd_value": [NAN, NAN, NAN],
}


# -- the cut-off ------------------------------------------------------------------------


def test_cutoff_is_midnight_after_as_of() -> None:
    """The cut-off is midnight at the start of the next day, whatever time a datetime carries."""
    assert cutoff_instant(AS_OF) == pd.Timestamp("2026-04-01 00:00")
    assert cutoff_instant(dt.datetime(2026, 3, 31, 23, 59)) == pd.Timestamp("2026-04-01")


# -- the features -----------------------------------------------------------------------


def test_features_match_hand_computed_values() -> None:
    """Every transaction feature equals its hand-computed value, window edges included."""
    frame = scoring_frame(make_log(), log_spec(), as_of=AS_OF)
    for name in TRANSACTION_FEATURES:
        assert frame[name].dtype == np.float64, name
        np.testing.assert_allclose(frame[name], EXPECTED_FEATURES[name], err_msg=name)


def test_columns_come_in_the_documented_order() -> None:
    """The frame holds the id, the transaction features, then categorical, numeric, boolean."""
    frame = scoring_frame(make_log(), log_spec(), as_of=AS_OF)
    expected = ["customer_id", *TRANSACTION_FEATURES, "campaign", "channel"]
    assert list(frame.columns) == [*expected, "visits", "student_verified"]
    assert isinstance(frame.index, pd.RangeIndex)


def test_ids_keep_leading_zeros_and_come_sorted() -> None:
    """Ids stay the exact strings given, sorted, and customers first seen later are absent."""
    frame = scoring_frame(make_log(), log_spec(), as_of=AS_OF)
    assert frame["customer_id"].tolist() == ["00002", "00003", "00017"]
    assert frame["customer_id"].dtype == "str"


def test_purchase_at_the_cutoff_counts_for_the_label_only() -> None:
    """A purchase exactly at the cut-off instant is no feature but is part of the label."""
    frame = training_frame(make_log(), log_spec())
    row = frame.set_index("customer_id").loc["00017"]
    assert row["frequency"] == 5.0
    assert row["max_ticket"] == 100.0
    assert row[LABEL_COLUMN] == 500.0


def test_the_whole_as_of_day_is_history() -> None:
    """A purchase late on the as_of day counts, with a recency of a fraction of a day."""
    frame = scoring_frame(make_log(), log_spec(), as_of=AS_OF)
    assert frame.loc[0, "recency_days"] == pytest.approx(0.25)
    earlier = scoring_frame(make_log(), log_spec(), as_of=dt.date(2026, 3, 30))
    assert earlier["customer_id"].tolist() == ["00003", "00017"]


def test_per_customer_columns_take_the_latest_non_missing_value() -> None:
    """Declared columns take each customer's latest non-missing value before the cut-off."""
    frame = scoring_frame(make_log(), log_spec(), as_of=AS_OF).set_index("customer_id")
    assert frame.loc["00017", "campaign"] == "winter"
    assert frame.loc["00017", "channel"] == "app"
    assert frame.loc["00017", "visits"] == 3.0
    assert frame.loc["00017", "student_verified"] == 1.0
    assert frame.loc["00002", "campaign"] == "summer"
    assert frame["channel"].isna()["00002"]
    assert frame["student_verified"].isna()["00002"]
    assert frame.loc["00003", ["campaign", "channel", "visits", "student_verified"]].isna().all()
    assert frame["campaign"].dtype == "str"
    assert frame["visits"].dtype == np.float64


def test_equal_times_resolve_to_the_later_row() -> None:
    """When two non-missing values share the latest time, the one further down the log wins."""
    rows = [
        ("1", "2026-03-01 10:00", 1.0, "first", None, NAN, NAN),
        ("1", "2026-03-01 10:00", 1.0, "second", None, NAN, NAN),
    ]
    frame = scoring_frame(make_log(rows), log_spec(), as_of=AS_OF)
    assert frame.loc[0, "campaign"] == "second"


def test_a_numeric_column_named_like_a_feature_is_built_from_the_log() -> None:
    """A numeric column named after a transaction feature is the built feature, not read."""
    frame = scoring_frame(make_log(), log_spec(numeric=("frequency", "visits")), as_of=AS_OF)
    assert frame["frequency"].tolist() == [1.0, 1.0, 5.0]
    assert list(frame.columns).count("frequency") == 1


def test_a_rule_only_column_is_carried_per_customer() -> None:
    """A column only a hard rule names is carried (latest value), so the rule can still fire."""
    rule = {"tier": "vip", "when": {"column": "vip_card", "equals": True}}
    log = make_log().assign(vip_card=[1.0] * 6 + [NAN] * 6)
    frame = scoring_frame(log, log_spec(rules=(rule,)), as_of=AS_OF)
    assert list(frame.columns)[-1] == "vip_card"
    assert frame["vip_card"].tolist()[2] == 1.0
    assert frame["vip_card"].isna().tolist() == [True, True, False]


def test_protected_and_data_time_columns_are_carried_when_the_log_has_them() -> None:
    """Protected columns and [data] time, if in the log, are carried for reports and splits."""
    raw = log_spec().to_dict()
    raw["features"]["protected"] = ["gender", "absent"]
    raw["data"]["time"] = "signup"
    spec = parse_spec(raw)
    log = make_log().assign(signup=pd.Timestamp("2024-05-01"))
    log["gender"] = pd.Series(["f"] * 6 + [None] * 6, dtype="str")
    frame = scoring_frame(log, spec, as_of=AS_OF)
    assert list(frame.columns)[-2:] == ["gender", "signup"]
    assert frame["gender"].isna().tolist() == [True, True, False]
    assert frame["signup"].tolist() == [pd.Timestamp("2024-05-01")] * 3
    assert frame["signup"].dtype == log["signup"].dtype


def test_row_order_does_not_change_the_frame() -> None:
    """Shuffling the log's rows gives the same frame (ids sorted, values by time)."""
    log = make_log()
    shuffled = log.sample(frac=1.0, random_state=7).reset_index(drop=True)
    spec = log_spec()
    pd.testing.assert_frame_equal(training_frame(log, spec), training_frame(shuffled, spec))


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_any_time_unit_gives_the_same_frame(unit: str) -> None:
    """Seconds, milliseconds, microseconds and nanoseconds all give the same frame."""
    log = make_log()
    expected = training_frame(log, log_spec())
    log["ts"] = log["ts"].astype(np.dtype(f"datetime64[{unit}]"))
    pd.testing.assert_frame_equal(training_frame(log, log_spec()), expected)


def test_timezone_aware_times_use_local_midnight() -> None:
    """Times with a time zone are cut at local midnight, exactly like naive local times."""
    log = make_log()
    expected = training_frame(log, log_spec())
    log["ts"] = log["ts"].dt.tz_localize("Europe/Berlin")
    pd.testing.assert_frame_equal(training_frame(log, log_spec()), expected)
