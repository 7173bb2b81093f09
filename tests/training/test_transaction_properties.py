"""Property tests of training.transactions: on random logs the features equal a slow
reference, and rows at or after the cut-off never change them."""

from __future__ import annotations

import itertools
import statistics
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.training.conftest import AS_OF, CUT, LOG_COLUMNS, NAN, log_spec, make_log
from tierline.training.transactions import (
    scoring_frame,
)

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
    frame = scoring_frame(make_log(rows), log_spec(), as_of=AS_OF)
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
    spec = log_spec()
    pd.testing.assert_frame_equal(
        scoring_frame(make_log(mixed), spec, as_of=AS_OF),
        scoring_frame(make_log(history), spec, as_of=AS_OF),
        check_exact=True,
    )
