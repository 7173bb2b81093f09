"""Bad cells and targets named with their column, value and line (training.columns,
training.problems), every problem of a file at once."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.training.conftest import (
    GOOD_ROWS,
    table_spec,
    write_csv,
)
from tierline.engine.errors import DataError
from tierline.engine.spec import Spec
from tierline.training.data import load_customers

# -- value errors --------------------------------------------------------------------------------


def _bad(tmp_path: Path, row: str, *, spec: Spec | None = None, with_target: bool = True) -> None:
    """Load GOOD_ROWS with ``row`` appended (row 4)."""
    load_customers(
        write_csv(tmp_path, [*GOOD_ROWS, row]), spec or table_spec(), with_target=with_target
    )


def test_numeric_column_holding_text(tmp_path: Path) -> None:
    """Text in a numeric column names the column, the value, the row and the file."""
    msg = (
        "Column 'visits_90d' is declared numeric but holds 'twelve' (line 5) in data.csv; "
        "fix the value or declare the column categorical"
    )
    with pytest.raises(DataError) as info:
        _bad(tmp_path, "004,2026-03-04,a,twelve,yes,no,vip")
    assert str(info.value) == msg


def test_boolean_column_holding_other_text(tmp_path: Path) -> None:
    """A boolean cell outside engine.values' spellings is named with the accepted spellings."""
    with pytest.raises(DataError, match=r"'loyalty_member' .*'maybe' \(line 5\).*yes.*no"):
        _bad(tmp_path, "004,2026-03-04,a,1,maybe,no,vip")


def test_nanosecond_times_as_pandas_writes_them_are_read(tmp_path: Path) -> None:
    """A time written with nine fractional digits (pandas' text for datetime64[ns]) reads to
    the microsecond, and a bad cell after it is still the one named."""
    rows = [*GOOD_ROWS, "004,2026-03-04 10:11:12.123456789,a,1,yes,no,vip"]
    frame = load_customers(write_csv(tmp_path, rows), table_spec(), with_target=True)
    assert frame["signup_date"].iloc[3] == pd.Timestamp("2026-03-04 10:11:12.123456")
    with pytest.raises(DataError, match=r"'soon' \(line 6\)"):
        load_customers(
            write_csv(tmp_path, [*rows, "005,soon,a,1,yes,no,vip"]), table_spec(), with_target=True
        )


@pytest.mark.parametrize("cell", ["03/01/2026", "20260230", "2026-03-01T12:00:00+02:00", "soon"])
def test_time_column_holding_other_text(tmp_path: Path, cell: str) -> None:
    """Dates that are not ISO or YYYYMMDD (or do not exist) name the value and the row."""
    with pytest.raises(
        DataError, match=rf"'signup_date' .*'{re.escape(cell)}' \(line 5\) in data\.csv"
    ):
        _bad(tmp_path, f"004,{cell},a,1,yes,no,vip")


@pytest.mark.parametrize("cell", ["", "  ", "N/A"])
def test_missing_id(tmp_path: Path, cell: str) -> None:
    """A row without an id names its row number."""
    with pytest.raises(DataError, match=r"Column 'customer_id' has no id in line 5 of data\.csv"):
        _bad(tmp_path, f'"{cell}",2026-03-04,a,1,yes,no,vip')


def test_duplicate_ids(tmp_path: Path) -> None:
    """Duplicate ids name one duplicated id, how often it appears and how many rows repeat."""
    rows = [*GOOD_ROWS, "002,2026-03-04,a,1,yes,no,vip", "002,2026-03-05,a,1,yes,no,vip"]
    rows.append("003,2026-03-06,a,1,yes,no,vip")
    with pytest.raises(
        DataError, match=r"'002' appears 3 times \(first on line 3\); 3 rows repeat"
    ):
        load_customers(write_csv(tmp_path, rows), table_spec(), with_target=True)


def test_unknown_tier_label(tmp_path: Path) -> None:
    """A label outside [tiers] names is named with the known tiers."""
    msg = (
        "Column 'tier' holds unknown tier label 'gold' (line 5) in data.csv; "
        "known tiers: vip, standard, student"
    )
    with pytest.raises(DataError) as info:
        _bad(tmp_path, "004,2026-03-04,a,1,yes,no, gold ")
    assert str(info.value) == msg


def test_missing_tier_labels(tmp_path: Path) -> None:
    """Rows without a label are counted."""
    rows = [*GOOD_ROWS, "004,2026-03-04,a,1,yes,no,", "005,2026-03-04,a,1,yes,no,N/A"]
    with pytest.raises(
        DataError, match=r"'tier' has no value in 2 rows of data\.csv \(lines 5, 6\)"
    ):
        load_customers(write_csv(tmp_path, rows), table_spec(), with_target=True)


def test_single_class(tmp_path: Path) -> None:
    """A class target with one label cannot train a model."""
    rows = [r.rsplit(",", 1)[0] + ",standard" for r in GOOD_ROWS]
    with pytest.raises(
        DataError, match="has a single class 'standard'; a model needs at least two"
    ):
        load_customers(write_csv(tmp_path, rows), table_spec(), with_target=True)


def _target_spec(kind: str, positive: Any = None) -> Spec:
    target: dict[str, Any] = {"kind": kind, "column": "tier"}
    if positive is not None:
        target["positive"] = positive
    return table_spec(
        target=target,
        tiers={
            "names": ["vip", "standard"],
            "default": "standard",
            "cuts": [{"tier": "vip", "top_fraction": 0.2}],
        },
    )


@pytest.mark.parametrize(
    ("positive", "cells", "want"),
    [
        (True, ["yes", "No", "TRUE"], [1.0, 0.0, 1.0]),
        (False, ["yes", "No", "TRUE"], [0.0, 1.0, 0.0]),
        ("bought", [" bought", "browsed", "bought"], [1.0, 0.0, 1.0]),
        (1, ["1.0", "0", "1"], [1.0, 0.0, 1.0]),
    ],
)
def test_binary_target(tmp_path: Path, positive: Any, cells: list[str], want: list[float]) -> None:
    """A binary target is 1.0 where the cell means [target] positive (bool, text or number)."""
    rows = [r.rsplit(",", 1)[0] + f",{c}" for r, c in zip(GOOD_ROWS, cells, strict=True)]
    frame = load_customers(
        write_csv(tmp_path, rows), _target_spec("binary", positive), with_target=True
    )
    assert frame["tier"].tolist() == want


@pytest.mark.parametrize(
    ("positive", "cells", "pattern"),
    [
        (True, ["yes", "yes", "1"], r"single class \(every row is positive = true\)"),
        ("bought", ["a", "b", "c"], r"single class \(every row is not positive = 'bought'\)"),
        (True, ["yes", "", "no"], r"'tier' has no value in 1 row .*line 3"),
        (1, ["1", "zero", "0"], r"'tier' is the target .* holds 'zero' \(line 3\)"),
    ],
)
def test_binary_target_errors(
    tmp_path: Path, positive: Any, cells: list[str], pattern: str
) -> None:
    """A binary target with one class, a missing label or a non-number is refused."""
    rows = [r.rsplit(",", 1)[0] + f",{c}" for r, c in zip(GOOD_ROWS, cells, strict=True)]
    with pytest.raises(DataError, match=pattern):
        load_customers(
            write_csv(tmp_path, rows), _target_spec("binary", positive), with_target=True
        )


def test_binary_text_label_differing_only_in_case(tmp_path: Path) -> None:
    """A label that matches [target] positive except for case is refused, not read as negative."""
    rows = [
        r.rsplit(",", 1)[0] + f",{c}" for r, c in zip(GOOD_ROWS, ["yes", "Yes", "no"], strict=True)
    ]
    with pytest.raises(DataError, match=r"'Yes' \(line 3\).*only in case"):
        load_customers(write_csv(tmp_path, rows), _target_spec("binary", "yes"), with_target=True)


@pytest.mark.parametrize(
    ("cells", "pattern"),
    [
        (["10", "-5", "0"], r"holds -5\.0 \(line 3\).*>= 0"),
        (["10", "lots", "0"], r"holds 'lots' \(line 3\)"),
        (["10", "", "0"], r"no value in 1 row"),
    ],
)
def test_value_target_errors(tmp_path: Path, cells: list[str], pattern: str) -> None:
    """An amount target must be a number >= 0 in every row."""
    rows = [r.rsplit(",", 1)[0] + f",{c}" for r, c in zip(GOOD_ROWS, cells, strict=True)]
    with pytest.raises(DataError, match=pattern):
        load_customers(write_csv(tmp_path, rows), _target_spec("value"), with_target=True)


def test_value_target_reads_amounts(tmp_path: Path) -> None:
    """An amount target is float64."""
    rows = [
        r.rsplit(",", 1)[0] + f",{c}" for r, c in zip(GOOD_ROWS, ["10", " 2.5", "0"], strict=True)
    ]
    frame = load_customers(write_csv(tmp_path, rows), _target_spec("value"), with_target=True)
    assert frame["tier"].tolist() == [10.0, 2.5, 0.0]


def test_entirely_missing_feature_when_training(tmp_path: Path) -> None:
    """A feature with no value in any row is refused for training."""
    rows = [",".join(c if i != 3 else "N/A" for i, c in enumerate(r.split(","))) for r in GOOD_ROWS]
    msg = r"Column 'visits_90d' is empty in data\.csv \(every value is missing\); fill it or remove"
    with pytest.raises(DataError, match=msg):
        load_customers(write_csv(tmp_path, rows), table_spec(), with_target=True)


def test_entirely_missing_feature_is_allowed_when_scoring(tmp_path: Path) -> None:
    """A batch being scored may lack a feature everywhere, as a single record may."""
    rows = [",".join(c if i != 3 else "" for i, c in enumerate(r.split(","))) for r in GOOD_ROWS]
    frame = load_customers(write_csv(tmp_path, rows), table_spec(), with_target=False)
    assert frame["visits_90d"].isna().all()


def test_every_bad_column_is_reported_in_spec_order(tmp_path: Path) -> None:
    """With several bad columns, every one is named, in spec order (deterministic)."""
    with pytest.raises(DataError) as info:
        _bad(tmp_path, "004,someday,a,twelve,maybe,no,vip")
    lines = str(info.value).splitlines()
    assert lines[0] == "Data file 'data.csv' has 3 problems; fix them all, then run again:"
    named = [re.search(r"Column '(\w+)'", line) for line in lines[1:]]
    assert [m.group(1) for m in named if m] == ["signup_date", "visits_90d", "loyalty_member"]
    assert all("(line 5)" in line for line in lines[1:])
