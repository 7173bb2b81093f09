"""The label a transaction log gives after its cut-off (training.transactions), and rows at or
after the cut-off that never reach the features."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.training.conftest import AS_OF, LOG_ROWS, NAN, log_spec, make_log
from tierline.training.transactions import (
    LABEL_COLUMN,
    cutoff_instant,
    scoring_frame,
    training_frame,
)


def features_only(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[LABEL_COLUMN], errors="ignore")


# -- the label --------------------------------------------------------------------------


def test_value_label_sums_the_horizon_after_the_cutoff() -> None:
    """A value label is the spend in [cut-off, cut-off + horizon), refunds included, else 0."""
    frame = training_frame(make_log(), log_spec(kind="value"))
    assert frame["customer_id"].tolist() == ["00002", "00003", "00017"]
    assert frame[LABEL_COLUMN].tolist() == [5.0, -30.0, 500.0]
    assert frame[LABEL_COLUMN].dtype == np.float64


def test_binary_label_says_whether_the_horizon_spend_was_positive() -> None:
    """A binary label is 1.0 when the spend in the horizon is positive, else 0.0."""
    frame = training_frame(make_log(), log_spec(kind="binary"))
    assert frame[LABEL_COLUMN].tolist() == [1.0, 0.0, 1.0]


@pytest.mark.parametrize("kind", ["value", "binary"])
def test_a_customer_silent_in_the_horizon_gets_a_zero_label(kind: str) -> None:
    """A customer with history but nothing in the horizon gets 0.0 for value and binary."""
    quiet = ("00004", "2026-03-15 09:30", 12.0, None, None, NAN, NAN)
    frame = training_frame(make_log([*LOG_ROWS, quiet]), log_spec(kind=kind))
    assert frame.set_index("customer_id").loc["00004", LABEL_COLUMN] == 0.0


def test_training_features_equal_scoring_features_one_horizon_earlier() -> None:
    """training_frame's features are scoring_frame's as of [transactions] as_of minus horizon."""
    spec = log_spec()
    pd.testing.assert_frame_equal(
        features_only(training_frame(make_log(), spec)),
        scoring_frame(make_log(), spec, as_of=AS_OF),
    )


def test_scoring_frame_defaults_to_the_spec_as_of_and_has_no_label() -> None:
    """scoring_frame uses [transactions] as_of unless told otherwise, and carries no label."""
    spec = log_spec(as_of="2026-03-31")
    frame = scoring_frame(make_log(), spec)
    assert LABEL_COLUMN not in frame
    pd.testing.assert_frame_equal(frame, scoring_frame(make_log(), spec, as_of=AS_OF))


def test_a_label_window_past_the_end_of_the_log_warns() -> None:
    """A label window that runs past the log's last day warns that labels undercount."""
    log = make_log(LOG_ROWS[:7] + LOG_ROWS[9:11])  # the log now ends on 2026-04-05
    with pytest.warns(UserWarning, match="ends on 2026-04-05"):
        frame = training_frame(log, log_spec())
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
    spec = log_spec()
    before = scoring_frame(
        make_log(LOG_ROWS[:5] + LOG_ROWS[6:7] + LOG_ROWS[9:10]), spec, as_of=AS_OF
    )
    after = scoring_frame(make_log(LOG_ROWS + future_rows()), spec, as_of=AS_OF)
    pd.testing.assert_frame_equal(after, before, check_exact=True)


def test_altering_future_rows_does_not_change_features() -> None:
    """Changing amounts, values and times of rows after the cut-off leaves features identical."""
    spec = log_spec()
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
    spec = log_spec()
    late = ("00017", "2026-06-30 00:00", 1e15, "future", "future", 1.0, 1.0)
    pd.testing.assert_frame_equal(
        training_frame(make_log([*LOG_ROWS, late]), spec),
        training_frame(make_log(), spec),
        check_exact=True,
    )
