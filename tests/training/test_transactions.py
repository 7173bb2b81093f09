"""Transaction log -> per-customer features and label (training.transactions).

Over 400 lines: still to be split by feature family.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import statistics
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierline.engine.errors import DataError, SpecError
from tierline.engine.spec import TRANSACTION_FEATURES, Spec, parse_spec
from tierline.training.transactions import (
    LABEL_COLUMN,
    customer_features,
    cutoff_instant,
    scoring_frame,
    training_frame,
)

AS_OF = dt.date(2026, 3, 31)  # cut-off 2026-04-01 00:00
NAN = math.nan
LOG_COLUMNS = ["customer_id", "ts", "amount", "campaign", "channel", "visits", "student_verified"]

# Deliberately not in time order: "latest" must follow the time column, not the row order.
ROWS: list[tuple[Any, ...]] = [
    ("00017", "2025-01-01 00:00", 100.0, "spring", "web", 1.0, 0.0),
    ("00017", "2026-03-02 00:00", -20.0, None, "app", NAN, NAN),  # refund; 30-day edge
    ("00017", "2026-01-01 00:00", 50.0, "winter", None, 3.0, 1.0),  # 90-day edge
    ("00017", "2025-04-01 00:00", 7.0, None, "store", NAN, NAN),  # 365-day edge
    ("00017", "2026-03-01 12:00", 10.0, None, None, NAN, NAN),  # just outside 30 days
    ("00017", "2026-04-01 00:00", 500.0, "leak", "leak", 99.0, 0.0),  # at the cut-off
    ("00002", "2026-03-31 18:00", 40.0, "summer", None, 2.0, NAN),  # the only purchase
    ("00002", "2026-06-29 23:00", 5.0, "later", "web", 5.0, 1.0),  # last hour of the label
    ("00002", "2026-06-30 00:00", 1000.0, None, None, NAN, NAN),  # just after the label
    ("00003", "2026-02-01 00:00", 30.0, None, None, NAN, NAN),
    ("00003", "2026-04-05 00:00", -30.0, None, None, NAN, NAN),  # refund in the label window
    ("A9", "2026-04-10 00:00", 70.0, "new", "web", 1.0, 1.0),  # only after the cut-off
]

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


def make_spec(
    *,
    kind: str = "value",
    as_of: str = "2026-06-29",
    horizon_days: int = 90,
    numeric: tuple[str, ...] = ("visits",),
    rules: tuple[dict[str, Any], ...] = (),
) -> Spec:
    tiers: dict[str, Any] = {
        "names": ["vip", "standard"],
        "default": "standard",
        "cuts": [{"tier": "vip", "top_fraction": 0.1}],
    }
    if rules:
        tiers["rules"] = list(rules)
    return parse_spec(
        {
            "data": {"id": "customer_id"},
            "features": {
                "categorical": ["campaign", "channel"],
                "numeric": list(numeric),
                "boolean": ["student_verified"],
            },
            "target": {"kind": kind},
            "tiers": tiers,
            "transactions": {
                "customer": "customer_id",
                "time": "ts",
                "amount": "amount",
                "as_of": as_of,
                "horizon_days": horizon_days,
            },
        }
    )


def make_log(rows: list[tuple[Any, ...]] = ROWS) -> pd.DataFrame:
    """The log as the loader hands it over: str ids and categories, datetime64, float64."""
    frame = pd.DataFrame(rows, columns=LOG_COLUMNS)
    for column in ("customer_id", "campaign", "channel"):
        frame[column] = frame[column].astype("str")
    frame["ts"] = pd.to_datetime(frame["ts"])
    for column in ("amount", "visits", "student_verified"):
        frame[column] = frame[column].astype("float64")
    return frame


def features_only(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[LABEL_COLUMN], errors="ignore")


# -- the cut-off ------------------------------------------------------------------------


def test_cutoff_is_midnight_after_as_of() -> None:
    """The cut-off is midnight at the start of the next day, whatever time a datetime carries."""
    assert cutoff_instant(AS_OF) == pd.Timestamp("2026-04-01 00:00")
    assert cutoff_instant(dt.datetime(2026, 3, 31, 23, 59)) == pd.Timestamp("2026-04-01")


# -- the features -----------------------------------------------------------------------


def test_features_match_hand_computed_values() -> None:
    """Every transaction feature equals its hand-computed value, window edges included."""
    frame = scoring_frame(make_log(), make_spec(), as_of=AS_OF)
    for name in TRANSACTION_FEATURES:
        assert frame[name].dtype == np.float64, name
        np.testing.assert_allclose(frame[name], EXPECTED_FEATURES[name], err_msg=name)


def test_columns_come_in_the_documented_order() -> None:
    """The frame holds the id, the transaction features, then categorical, numeric, boolean."""
    frame = scoring_frame(make_log(), make_spec(), as_of=AS_OF)
    expected = ["customer_id", *TRANSACTION_FEATURES, "campaign", "channel"]
    assert list(frame.columns) == [*expected, "visits", "student_verified"]
    assert isinstance(frame.index, pd.RangeIndex)


def test_ids_keep_leading_zeros_and_come_sorted() -> None:
    """Ids stay the exact strings given, sorted, and customers first seen later are absent."""
    frame = scoring_frame(make_log(), make_spec(), as_of=AS_OF)
    assert frame["customer_id"].tolist() == ["00002", "00003", "00017"]
    assert frame["customer_id"].dtype == "str"


def test_purchase_at_the_cutoff_counts_for_the_label_only() -> None:
    """A purchase exactly at the cut-off instant is no feature but is part of the label."""
    frame = training_frame(make_log(), make_spec())
    row = frame.set_index("customer_id").loc["00017"]
    assert row["frequency"] == 5.0
    assert row["max_ticket"] == 100.0
    assert row[LABEL_COLUMN] == 500.0


def test_the_whole_as_of_day_is_history() -> None:
    """A purchase late on the as_of day counts, with a recency of a fraction of a day."""
    frame = scoring_frame(make_log(), make_spec(), as_of=AS_OF)
    assert frame.loc[0, "recency_days"] == pytest.approx(0.25)
    earlier = scoring_frame(make_log(), make_spec(), as_of=dt.date(2026, 3, 30))
    assert earlier["customer_id"].tolist() == ["00003", "00017"]


def test_per_customer_columns_take_the_latest_non_missing_value() -> None:
    """Declared columns take each customer's latest non-missing value before the cut-off."""
    frame = scoring_frame(make_log(), make_spec(), as_of=AS_OF).set_index("customer_id")
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
    frame = scoring_frame(make_log(rows), make_spec(), as_of=AS_OF)
    assert frame.loc[0, "campaign"] == "second"


def test_a_numeric_column_named_like_a_feature_is_built_from_the_log() -> None:
    """A numeric column named after a transaction feature is the built feature, not read."""
    frame = scoring_frame(make_log(), make_spec(numeric=("frequency", "visits")), as_of=AS_OF)
    assert frame["frequency"].tolist() == [1.0, 1.0, 5.0]
    assert list(frame.columns).count("frequency") == 1


def test_a_rule_only_column_is_carried_per_customer() -> None:
    """A column only a hard rule names is carried (latest value), so the rule can still fire."""
    rule = {"tier": "vip", "when": {"column": "vip_card", "equals": True}}
    log = make_log().assign(vip_card=[1.0] * 6 + [NAN] * 6)
    frame = scoring_frame(log, make_spec(rules=(rule,)), as_of=AS_OF)
    assert list(frame.columns)[-1] == "vip_card"
    assert frame["vip_card"].tolist()[2] == 1.0
    assert frame["vip_card"].isna().tolist() == [True, True, False]


def test_protected_and_data_time_columns_are_carried_when_the_log_has_them() -> None:
    """Protected columns and [data] time, if in the log, are carried for reports and splits."""
    raw = make_spec().to_dict()
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
    spec = make_spec()
    pd.testing.assert_frame_equal(training_frame(log, spec), training_frame(shuffled, spec))


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_any_time_unit_gives_the_same_frame(unit: str) -> None:
    """Seconds, milliseconds, microseconds and nanoseconds all give the same frame."""
    log = make_log()
    expected = training_frame(log, make_spec())
    log["ts"] = log["ts"].astype(np.dtype(f"datetime64[{unit}]"))
    pd.testing.assert_frame_equal(training_frame(log, make_spec()), expected)


def test_timezone_aware_times_use_local_midnight() -> None:
    """Times with a time zone are cut at local midnight, exactly like naive local times."""
    log = make_log()
    expected = training_frame(log, make_spec())
    log["ts"] = log["ts"].dt.tz_localize("Europe/Berlin")
    pd.testing.assert_frame_equal(training_frame(log, make_spec()), expected)


# -- the label --------------------------------------------------------------------------


def test_value_label_sums_the_horizon_after_the_cutoff() -> None:
    """A value label is the spend in [cut-off, cut-off + horizon), refunds included, else 0."""
    frame = training_frame(make_log(), make_spec(kind="value"))
    assert frame["customer_id"].tolist() == ["00002", "00003", "00017"]
    assert frame[LABEL_COLUMN].tolist() == [5.0, -30.0, 500.0]
    assert frame[LABEL_COLUMN].dtype == np.float64


def test_binary_label_says_whether_the_horizon_spend_was_positive() -> None:
    """A binary label is 1.0 when the spend in the horizon is positive, else 0.0."""
    frame = training_frame(make_log(), make_spec(kind="binary"))
    assert frame[LABEL_COLUMN].tolist() == [1.0, 0.0, 1.0]


@pytest.mark.parametrize("kind", ["value", "binary"])
def test_a_customer_silent_in_the_horizon_gets_a_zero_label(kind: str) -> None:
    """A customer with history but nothing in the horizon gets 0.0 for value and binary."""
    quiet = ("00004", "2026-03-15 09:30", 12.0, None, None, NAN, NAN)
    frame = training_frame(make_log([*ROWS, quiet]), make_spec(kind=kind))
    assert frame.set_index("customer_id").loc["00004", LABEL_COLUMN] == 0.0


def test_training_features_equal_scoring_features_one_horizon_earlier() -> None:
    """training_frame's features are scoring_frame's as of [transactions] as_of minus horizon."""
    spec = make_spec()
    pd.testing.assert_frame_equal(
        features_only(training_frame(make_log(), spec)),
        scoring_frame(make_log(), spec, as_of=AS_OF),
    )


def test_scoring_frame_defaults_to_the_spec_as_of_and_has_no_label() -> None:
    """scoring_frame uses [transactions] as_of unless told otherwise, and carries no label."""
    spec = make_spec(as_of="2026-03-31")
    frame = scoring_frame(make_log(), spec)
    assert LABEL_COLUMN not in frame
    pd.testing.assert_frame_equal(frame, scoring_frame(make_log(), spec, as_of=AS_OF))


def test_a_label_window_past_the_end_of_the_log_warns() -> None:
    """A label window that runs past the log's last day warns that labels undercount."""
    log = make_log(ROWS[:7] + ROWS[9:11])  # the log now ends on 2026-04-05
    with pytest.warns(UserWarning, match="ends on 2026-04-05"):
        frame = training_frame(log, make_spec())
    assert frame[LABEL_COLUMN].tolist() == [0.0, -30.0, 500.0]


# -- no leakage ---------------------------------------------------------------------------


def future_rows() -> list[tuple[Any, ...]]:
    """Rows at or after the cut-off: huge amounts, new customers, new values, bad cells."""
    return [
        ("00017", "2026-04-01 00:00", 1e15, "future", "future", 1e9, 0.0),
        ("00002", "2026-04-01 00:00", -1e15, "future", "future", 1e9, 1.0),
        ("00003", "2027-01-01 00:00", NAN, None, "future", NAN, 0.0),
        ("NEW", "2026-04-01 00:00", 1e12, "future", "future", 1.0, 1.0),
        ("00001", "2030-01-01 00:00", 5.0, "future", "future", 1.0, 1.0),
        (None, "2026-05-01 00:00", 5.0, "future", "future", 1.0, 1.0),
    ]


def test_rows_at_or_after_the_cutoff_do_not_change_features() -> None:
    """Appending future rows (huge, new customers, missing cells) leaves features identical."""
    spec = make_spec()
    before = scoring_frame(make_log(ROWS[:5] + ROWS[6:7] + ROWS[9:10]), spec, as_of=AS_OF)
    after = scoring_frame(make_log(ROWS + future_rows()), spec, as_of=AS_OF)
    pd.testing.assert_frame_equal(after, before, check_exact=True)


def test_altering_future_rows_does_not_change_features() -> None:
    """Changing amounts, values and times of rows after the cut-off leaves features identical."""
    spec = make_spec()
    log = make_log()
    expected = scoring_frame(log, spec, as_of=AS_OF)
    future = log["ts"] >= cutoff_instant(AS_OF)
    altered = log.copy()
    altered.loc[future, "amount"] = 9e99
    altered.loc[future, "campaign"] = "tampered"
    altered.loc[future, "student_verified"] = 0.0
    altered.loc[future, "ts"] = pd.Timestamp("2026-04-01 00:00")
    altered.loc[future, "customer_id"] = "00000"
    result = scoring_frame(altered, spec, as_of=AS_OF)
    pd.testing.assert_frame_equal(result, expected, check_exact=True)


def test_rows_after_the_label_window_do_not_change_the_training_frame() -> None:
    """Rows after the label window change neither the features nor the label."""
    spec = make_spec()
    late = ("00017", "2026-06-30 00:00", 1e15, "future", "future", 1.0, 1.0)
    pd.testing.assert_frame_equal(
        training_frame(make_log([*ROWS, late]), spec),
        training_frame(make_log(), spec),
        check_exact=True,
    )


# -- property tests -------------------------------------------------------------------

CUT = cutoff_instant(AS_OF)
# Few, awkward ids (leading zeros, unicode, ids that differ only by zeros) so they collide.
ids_st = st.sampled_from(["007", "07", "7", "a", "ü-1", "00"])
offset_st = st.integers(min_value=-800 * 86_400, max_value=-1)  # seconds before the cut-off
future_offset_st = st.integers(min_value=0, max_value=400 * 86_400)
amount_st = st.floats(min_value=-500, max_value=5000, allow_nan=False).map(lambda x: round(x, 2))
category_st = st.one_of(st.none(), st.sampled_from(["x", "y", "ß"]))
flag_st = st.sampled_from([0.0, 1.0, NAN])


def row_st(offsets: st.SearchStrategy[int]) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.tuples(ids_st, offsets, amount_st, category_st, category_st, flag_st, flag_st).map(
        lambda r: (r[0], CUT + pd.Timedelta(seconds=r[1]), *r[2:])
    )


def reference(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """A slow, obvious per-customer computation of the same features, for comparison."""
    out: list[dict[str, Any]] = []
    for customer in sorted({r[0] for r in rows}):
        mine = sorted((r for r in rows if r[0] == customer), key=lambda r: r[1])
        days = [(CUT - r[1]) / pd.Timedelta(days=1) for r in mine]
        amounts = [r[2] for r in mine]
        record: dict[str, Any] = {
            "customer_id": customer,
            "recency_days": min(days),
            "frequency": float(len(mine)),
            "monetary_total": sum(amounts),
            "monetary_mean": sum(amounts) / len(mine),
            "max_ticket": max(amounts),
            "tenure_days": max(days),
            "mean_gap_days": (max(days) - min(days)) / (len(mine) - 1) if len(mine) > 1 else NAN,
        }
        for window in (30, 90, 365):
            inside = [a for d, a in zip(days, amounts, strict=True) if d <= window]
            record[f"spend_{window}d"] = float(sum(inside))
            record[f"count_{window}d"] = float(len(inside))
        record.update(reference_purchase_days(mine, days))
        for position, column in enumerate(LOG_COLUMNS[3:], start=3):
            present = [r[position] for r in mine if not pd.isna(r[position])]
            record[column] = present[-1] if present else NAN
        out.append(record)
    return pd.DataFrame(out)


def reference_purchase_days(mine: list[tuple[Any, ...]], days: list[float]) -> dict[str, float]:
    """The purchase-day features of one customer's rows (in time order), computed plainly."""
    spend: dict[pd.Timestamp, float] = {}
    for r in mine:
        spend[r[1].normalize()] = spend.get(r[1].normalize(), 0.0) + r[2]
    dates = sorted(spend)
    x = len(dates) - 1
    gaps = [(b - a).days for a, b in itertools.pairwise(dates)]
    span = (dates[-1] - dates[0]).days
    age = (CUT - pd.Timedelta(days=1) - dates[0]).days
    record = {
        "repeat_days": float(x),
        "repeat_span_days": float(span),
        "age_days": float(age),
        "repeat_spend_mean": sum(spend[d] for d in dates[1:]) / x if x else NAN,
        "gap_std_days": statistics.pstdev(gaps) if x > 1 else NAN,
        "last_gap_days": float(gaps[-1]) if x else NAN,
        "overdue_ratio": (age - span) / (span / x) if x else NAN,
    }
    pairs = list(zip(days, [r[2] for r in mine], strict=True))
    for window in (30, 90):
        now = [a for d, a in pairs if d <= window]
        then = [a for d, a in pairs if window < d <= 2 * window]
        for what, a, b in (("spend", sum(now), sum(then)), ("count", len(now), len(then))):
            scale = abs(a) + abs(b)
            record[f"{what}_trend_{window}d"] = (a - b) / scale if scale else 0.0
    for name in ("bgnbd_purchases", "bgnbd_p_alive", "gg_spend", "btyd_value"):
        record[name] = NAN
    return record


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(row_st(offset_st), min_size=1, max_size=40))
def test_features_agree_with_a_slow_reference(rows: list[tuple[Any, ...]]) -> None:
    """On random logs the vectorised features equal a plain per-customer computation."""
    # Distinct times per customer keep "latest" unambiguous for the reference's sort.
    rows = list({(r[0], r[1]): r for r in rows}.values())
    frame = scoring_frame(make_log(rows), make_spec(), as_of=AS_OF)
    expected = reference(rows)
    for column in ("campaign", "channel"):
        expected[column] = expected[column].astype("str")
    pd.testing.assert_frame_equal(
        frame, expected[frame.columns.tolist()], check_dtype=False, rtol=1e-9, atol=1e-9
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    history=st.lists(row_st(offset_st), min_size=1, max_size=30),
    future=st.lists(row_st(future_offset_st), max_size=30),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_future_rows_never_change_features(
    history: list[tuple[Any, ...]], future: list[tuple[Any, ...]], seed: int
) -> None:
    """Mixing any rows at or after the cut-off into a log leaves its features bit-identical."""
    # Future rows go in at random places; history keeps its order (sums add in log order).
    rng = np.random.default_rng(seed)
    slots = np.sort(rng.integers(0, len(history) + 1, size=len(future)))
    mixed = list(history)
    for offset, (slot, row) in enumerate(zip(slots, future, strict=True)):
        mixed.insert(int(slot) + offset, row)
    spec = make_spec()
    pd.testing.assert_frame_equal(
        scoring_frame(make_log(mixed), spec, as_of=AS_OF),
        scoring_frame(make_log(history), spec, as_of=AS_OF),
        check_exact=True,
    )


# -- errors ---------------------------------------------------------------------------


def test_no_transactions_before_the_cutoff_is_a_data_error() -> None:
    """A cut-off before the first transaction raises DataError naming the cut-off."""
    with pytest.raises(DataError, match=r"No transactions before the cut-off 2024-01-01"):
        scoring_frame(make_log(), make_spec(), as_of=dt.date(2023, 12, 31), source="tx.csv")


def test_an_empty_log_is_a_data_error() -> None:
    """A log without rows raises DataError rather than returning an empty frame."""
    with pytest.raises(DataError, match="No transactions before the cut-off"):
        scoring_frame(make_log([]), make_spec(), as_of=AS_OF)


def test_no_transactions_in_the_label_window_is_a_data_error() -> None:
    """A label window without any transaction raises DataError: the label would be all zero."""
    log = make_log([r for r in ROWS if pd.Timestamp(r[1]) < CUT])
    with pytest.raises(DataError, match=r"No transactions in the 90 days after the cut-off") as e:
        training_frame(log, make_spec())
    assert "all zero" in str(e.value)
    assert "minus horizon_days 90" in str(e.value)


def test_a_label_window_with_only_new_customers_is_a_data_error() -> None:
    """A label window whose transactions are all by customers without history raises."""
    log = make_log([r for r in ROWS if pd.Timestamp(r[1]) < CUT or r[0] == "A9"])
    with pytest.raises(DataError, match="customer seen before the cut-off"):
        training_frame(log, make_spec())


def test_a_missing_column_is_a_data_error() -> None:
    """A declared per-customer column absent from the log raises DataError naming it."""
    with pytest.raises(DataError, match=r"'channel'.*missing from tx.csv"):
        scoring_frame(make_log().drop(columns="channel"), make_spec(), source="tx.csv")
    with pytest.raises(DataError, match=r"'amount' is the \[transactions\] amount column"):
        scoring_frame(make_log().drop(columns="amount"), make_spec())


def test_a_time_column_that_is_not_datetime_is_a_data_error() -> None:
    """A time column still holding text raises DataError naming the column."""
    log = make_log().assign(ts=lambda f: f["ts"].astype("str"))
    with pytest.raises(DataError, match=r"Column 'ts'.*must hold date-times"):
        scoring_frame(log, make_spec(), as_of=AS_OF)


def test_a_missing_time_is_a_data_error() -> None:
    """A row without a time raises DataError, since it cannot be placed before or after."""
    log = make_log()
    log.loc[3, "ts"] = pd.NaT
    with pytest.raises(DataError, match="1 rows of the transaction log have no time"):
        scoring_frame(log, make_spec(), as_of=AS_OF)


def test_a_missing_amount_or_id_in_the_history_is_a_data_error() -> None:
    """A used row with no amount or no customer id raises DataError naming the column."""
    log = make_log()
    log.loc[0, "amount"] = NAN
    with pytest.raises(DataError, match=r"1 transactions .* missing or infinite amount"):
        scoring_frame(log, make_spec(), as_of=AS_OF)
    log = make_log()
    log.loc[0, "customer_id"] = None
    with pytest.raises(DataError, match="no customer id in column 'customer_id'"):
        scoring_frame(log, make_spec(), as_of=AS_OF)


def test_a_text_amount_column_is_a_data_error() -> None:
    """An amount column that is not numeric raises DataError naming the column."""
    log = make_log().assign(amount=lambda f: f["amount"].astype("str"))
    with pytest.raises(DataError, match=r"Column 'amount'.*must hold numbers"):
        scoring_frame(log, make_spec(), as_of=AS_OF)


def test_a_spec_without_transactions_is_a_spec_error() -> None:
    """A spec for a customer table cannot build features from a log."""
    spec = parse_spec(
        {
            "data": {"id": "customer_id"},
            "features": {"numeric": ["visits"]},
            "target": {"kind": "class", "column": "tier"},
            "tiers": {"names": ["vip", "standard"], "default": "standard"},
        }
    )
    with pytest.raises(SpecError, match=r"no \[transactions\] section"):
        customer_features(make_log(), spec, as_of=AS_OF)
