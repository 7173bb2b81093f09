"""Transaction logs and specs that cannot give features or a label are refused with a
DataError or SpecError naming the problem (training.transactions)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from tests.training.conftest import AS_OF, CUT, LOG_ROWS, NAN, log_spec, make_log
from tierline.engine.errors import DataError, SpecError
from tierline.engine.spec import parse_spec
from tierline.training.transactions import (
    customer_features,
    scoring_frame,
    training_frame,
)


def test_no_transactions_before_the_cutoff_is_a_data_error() -> None:
    """A cut-off before the first transaction raises DataError naming the cut-off."""
    with pytest.raises(DataError, match=r"No transactions before the cut-off 2024-01-01"):
        scoring_frame(make_log(), log_spec(), as_of=dt.date(2023, 12, 31), source="tx.csv")


def test_an_empty_log_is_a_data_error() -> None:
    """A log without rows raises DataError rather than returning an empty frame."""
    with pytest.raises(DataError, match="No transactions before the cut-off"):
        scoring_frame(make_log([]), log_spec(), as_of=AS_OF)


def test_no_transactions_in_the_label_window_is_a_data_error() -> None:
    """A label window without any transaction raises DataError: the label would be all zero."""
    log = make_log([r for r in LOG_ROWS if pd.Timestamp(r[1]) < CUT])
    with pytest.raises(DataError, match=r"No transactions in the 90 days after the cut-off") as e:
        training_frame(log, log_spec())
    assert "all zero" in str(e.value)
    assert "minus horizon_days 90" in str(e.value)


def test_a_label_window_with_only_new_customers_is_a_data_error() -> None:
    """A label window whose transactions are all by customers without history raises."""
    log = make_log([r for r in LOG_ROWS if pd.Timestamp(r[1]) < CUT or r[0] == "A9"])
    with pytest.raises(DataError, match="customer seen before the cut-off"):
        training_frame(log, log_spec())


def test_a_missing_column_is_a_data_error() -> None:
    """A declared per-customer column absent from the log raises DataError naming it."""
    with pytest.raises(DataError, match=r"'channel'.*missing from tx.csv"):
        scoring_frame(make_log().drop(columns="channel"), log_spec(), source="tx.csv")
    with pytest.raises(DataError, match=r"'amount' is the \[transactions\] amount column"):
        scoring_frame(make_log().drop(columns="amount"), log_spec())


def test_a_time_column_that_is_not_datetime_is_a_data_error() -> None:
    """A time column still holding text raises DataError naming the column."""
    log = make_log().assign(ts=lambda f: f["ts"].astype("str"))
    with pytest.raises(DataError, match=r"Column 'ts'.*must hold date-times"):
        scoring_frame(log, log_spec(), as_of=AS_OF)


def test_a_missing_time_is_a_data_error() -> None:
    """A row without a time raises DataError, since it cannot be placed before or after."""
    log = make_log()
    log.loc[3, "ts"] = pd.NaT
    with pytest.raises(DataError, match="1 rows of the transaction log have no time"):
        scoring_frame(log, log_spec(), as_of=AS_OF)


def test_a_missing_amount_or_id_in_the_history_is_a_data_error() -> None:
    """A used row with no amount or no customer id raises DataError naming the column."""
    log = make_log()
    log.loc[0, "amount"] = NAN
    with pytest.raises(DataError, match=r"1 transactions .* missing or infinite amount"):
        scoring_frame(log, log_spec(), as_of=AS_OF)
    log = make_log()
    log.loc[0, "customer_id"] = None
    with pytest.raises(DataError, match="no customer id in column 'customer_id'"):
        scoring_frame(log, log_spec(), as_of=AS_OF)


def test_a_text_amount_column_is_a_data_error() -> None:
    """An amount column that is not numeric raises DataError naming the column."""
    log = make_log().assign(amount=lambda f: f["amount"].astype("str"))
    with pytest.raises(DataError, match=r"Column 'amount'.*must hold numbers"):
        scoring_frame(log, log_spec(), as_of=AS_OF)


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
