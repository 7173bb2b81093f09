"""Typing a file's columns by their declared role (training.data, training.columns), in
agreement with engine.values."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.training.conftest import (
    GOOD_ROWS,
    HEADER,
    messy_customers,
    table_spec,
    write_csv,
)
from tierline.engine.values import (
    FALSE_TOKENS,
    MISSING_TOKENS,
    TRUE_TOKENS,
    parse_bool,
    parse_number,
)
from tierline.training.data import load_customers

# -- the messy fixture -----------------------------------------------------------------------


def test_messy_file_has_declared_columns_in_spec_order() -> None:
    """Only declared columns come back (drop and unknown columns are not read), in spec order."""
    frame = messy_customers()
    assert list(frame.columns) == [
        "Customer ID",
        "Signup Date",
        "Campaign",
        "Home City",
        "Visits (90d)",
        "Spend 365d",
        "Loyalty Member",
        "Student Verified",
        "Lifetime Spend",
        "Tier",
        "Age Band",
    ]
    assert len(frame) == 28


def test_messy_file_has_declared_types() -> None:
    """Ids, categories, target and protected columns are strings; numbers and booleans float64."""
    frame = messy_customers()
    for col in ("Customer ID", "Campaign", "Home City", "Tier", "Age Band"):
        assert pd.api.types.is_string_dtype(frame[col]), col
    for col in (
        "Visits (90d)",
        "Spend 365d",
        "Loyalty Member",
        "Student Verified",
        "Lifetime Spend",
    ):
        assert frame[col].dtype == np.float64, col
    assert frame["Signup Date"].dtype == "datetime64[us]"


def test_messy_ids_are_kept_exactly_as_written_in_file_order() -> None:
    """Leading zeros, inner spaces and letters survive, and rows keep the file's order."""
    ids = messy_customers()["Customer ID"].tolist()
    assert ids[:9] == ["00017", "0042", "000", "7", "C-1003", "00100", "A 17", "0000123", "12"]
    assert ids[-1] == "031"


def test_messy_booleans_follow_engine_values() -> None:
    """yes/No/TRUE/0/y/t/blank read as 1.0/0.0/NaN, case and spaces ignored."""
    frame = messy_customers()
    loyal = frame["Loyalty Member"].tolist()
    assert loyal[:7] == [1.0, 1.0, 0.0, loyal[3], 0.0, 1.0, 1.0]
    assert math.isnan(loyal[3])
    assert frame["Student Verified"].tolist()[:5] == [0.0, 0.0, 1.0, 1.0, 0.0]
    assert math.isnan(frame["Student Verified"].iloc[13])  # NULL


def test_messy_dates_mix_iso_and_compact_forms() -> None:
    """ISO dates, ISO datetimes (T or space) and YYYYMMDD parse per cell; blank and N/A are NaT."""
    dates = messy_customers()["Signup Date"]
    assert dates.iloc[0] == pd.Timestamp("2025-01-15")
    assert dates.iloc[1] == pd.Timestamp("2025-02-03")
    assert dates.iloc[2] == pd.Timestamp("2025-03-01 12:30:00")
    assert dates.iloc[3] == pd.Timestamp("2025-03-02 18:45")
    assert dates.iloc[8] == pd.Timestamp("2024-02-29")
    assert pd.isna(dates.iloc[5]) and pd.isna(dates.iloc[16])


def test_messy_categories_are_stripped_unicode_with_case_kept() -> None:
    """Categories keep unicode and case, lose surrounding spaces, and missing markers become NaN."""
    frame = messy_customers()
    assert frame["Campaign"].iloc[1] == "Café Crème"
    assert frame["Campaign"].iloc[2] == "spring_promo"
    assert pd.isna(frame["Campaign"].iloc[3]) and pd.isna(frame["Campaign"].iloc[12])  # N/A, null
    assert frame["Home City"].iloc[2] == "Zürich"
    assert frame["Home City"].iloc[5] == "zürich"
    assert pd.isna(frame["Home City"].iloc[8])  # only spaces


def test_messy_numbers_tolerate_spaces_and_missing_markers() -> None:
    """' 12 ' is 12.0; blank, N/A and '-' are NaN."""
    frame = messy_customers()
    assert frame["Visits (90d)"].iloc[1] == 12.0
    assert frame["Visits (90d)"].iloc[:4].isna().tolist() == [False, False, True, True]
    assert frame["Spend 365d"].iloc[1] == 1890.5
    assert frame["Spend 365d"].iloc[2:4].isna().all()


def test_messy_target_and_protected_are_stripped_strings() -> None:
    """Tier labels are stripped (' student ' -> 'student'); the protected column stays text."""
    frame = messy_customers()
    assert frame["Tier"].iloc[3] == "student"
    assert set(frame["Tier"]) == {"vip", "standard", "student"}
    assert frame["Age Band"].iloc[0] == "25-34"
    assert pd.isna(frame["Age Band"].iloc[4]) and pd.isna(frame["Age Band"].iloc[12])


def test_rule_only_columns_are_typed_by_the_rule() -> None:
    """An equals-true rule column reads as a boolean and a min rule column as a number."""
    frame = messy_customers()
    assert frame["Student Verified"].iloc[2] == 1.0
    assert frame["Lifetime Spend"].iloc[1] == 6200.0
    assert pd.isna(frame["Lifetime Spend"].iloc[3])


def test_scoring_does_not_need_the_target(tmp_path: Path) -> None:
    """with_target=False neither requires nor returns the target column."""
    rows = [r.rsplit(",", 1)[0] for r in GOOD_ROWS]
    path = write_csv(tmp_path, rows, header=HEADER.rsplit(",", 1)[0])
    frame = load_customers(path, table_spec(), with_target=False)
    assert "tier" not in frame.columns
    assert frame["customer_id"].tolist() == ["001", "002", "003"]


# -- agreement with engine.values ----------------------------------------------------------------


def test_every_boolean_and_missing_token_reads_like_parse_bool(tmp_path: Path) -> None:
    """Each engine.values token, in any case and padded, reads as parse_bool reads it."""
    tokens = sorted(TRUE_TOKENS | FALSE_TOKENS | MISSING_TOKENS)
    cells = [v for t in tokens for v in (t, t.upper(), t.title(), f"  {t} ")]
    rows = [f"{i},{c}" for i, c in enumerate(cells)]
    path = write_csv(tmp_path, rows, header="customer_id,loyalty_member")
    spec = table_spec(
        data={"id": "customer_id"},
        features={"boolean": ["loyalty_member"]},
        tiers={"names": ["vip", "standard"], "default": "standard"},
    )
    got = load_customers(path, spec, with_target=False)["loyalty_member"].tolist()
    want = [parse_bool(c) for c in cells]
    assert [("nan" if math.isnan(x) else x) for x in got] == [
        ("nan" if math.isnan(x) else x) for x in want
    ]


@pytest.mark.parametrize("cell", ["12", " 3.5 ", "-2", "+4", "1e3", "0.0", "NA", " n/a ", "", "?"])
def test_numbers_read_like_parse_number(tmp_path: Path, cell: str) -> None:
    """A numeric cell reads as engine.values.parse_number reads it."""
    path = write_csv(tmp_path, [f'1,"{cell}"'], header="customer_id,visits_90d")
    spec = table_spec(
        data={"id": "customer_id"},
        features={"numeric": ["visits_90d"]},
        tiers={"names": ["vip", "standard"], "default": "standard"},
    )
    got = load_customers(path, spec, with_target=False)["visits_90d"].iloc[0]
    want = parse_number(cell)
    assert (math.isnan(got) and math.isnan(want)) or got == want


def test_pyarrow_default_null_markers_do_not_apply(tmp_path: Path) -> None:
    """Only engine.values decides what is missing: pyarrow's own null list is switched off."""
    path = write_csv(tmp_path, ["NULL-1,#N/A", "NaN1,-NaN"], header="customer_id,campaign")
    spec = table_spec(
        data={"id": "customer_id"},
        features={"categorical": ["campaign"]},
        tiers={"names": ["vip", "standard"], "default": "standard"},
    )
    frame = load_customers(path, spec, with_target=False)
    assert frame["customer_id"].tolist() == ["NULL-1", "NaN1"]
    for cell, got in zip(["#N/A", "-NaN"], frame["campaign"], strict=True):
        assert pd.isna(got) if cell.lower() in MISSING_TOKENS else got == cell


def test_ids_are_never_stripped_or_converted(tmp_path: Path) -> None:
    """An id with spaces or a numeric look comes back byte for byte."""
    rows = ['" 0017 ",2026-03-01,a,1,yes,no,vip', "1.50,2026-03-01,a,1,yes,no,standard"]
    frame = load_customers(write_csv(tmp_path, rows), table_spec(), with_target=True)
    assert frame["customer_id"].tolist() == [" 0017 ", "1.50"]
