"""Tests for training.data: reading users' files by the spec, and writing tables atomically.

Over 400 lines: still to be split into reading, typing and writing, as training/ is.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tierline.engine.errors import DataError, SpecError
from tierline.engine.spec import Spec, load_spec, parse_spec
from tierline.engine.values import (
    FALSE_TOKENS,
    MISSING_TOKENS,
    TRUE_TOKENS,
    parse_bool,
    parse_number,
)
from tierline.training import writing
from tierline.training.data import CsvDialect, data_fingerprint, load_customers, load_transactions
from tierline.training.formats import SUPPORTED
from tierline.training.writing import check_output_path, write_table

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MESSY = FIXTURES / "messy_customers.csv"

HEADER = "customer_id,signup_date,campaign,visits_90d,loyalty_member,student_verified,tier"
GOOD_ROWS = [
    "001,2026-03-01,spring,3,yes,no,vip",
    "002,2026-03-02,google,5,no,no,standard",
    "003,20260303,spring,1,,yes,student",
]


def _spec(**overrides: Any) -> Spec:
    """A small class-target spec over HEADER's columns; overrides replace whole sections."""
    raw: dict[str, Any] = {
        "data": {"id": "customer_id", "time": "signup_date"},
        "features": {
            "categorical": ["campaign"],
            "numeric": ["visits_90d"],
            "boolean": ["loyalty_member"],
        },
        "target": {"kind": "class", "column": "tier"},
        "tiers": {
            "names": ["vip", "standard", "student"],
            "default": "standard",
            "rules": [{"tier": "student", "when": {"column": "student_verified", "equals": True}}],
        },
    }
    raw.update(overrides)
    return parse_spec(raw, source="test spec")


def _csv(tmp_path: Path, rows: list[str], *, header: str = HEADER, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _messy() -> pd.DataFrame:
    return load_customers(MESSY, load_spec(FIXTURES / "messy_spec.toml"), with_target=True)


# -- the messy fixture -----------------------------------------------------------------------


def test_messy_file_has_declared_columns_in_spec_order() -> None:
    """Only declared columns come back (drop and unknown columns are not read), in spec order."""
    frame = _messy()
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
    frame = _messy()
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
    ids = _messy()["Customer ID"].tolist()
    assert ids[:9] == ["00017", "0042", "000", "7", "C-1003", "00100", "A 17", "0000123", "12"]
    assert ids[-1] == "031"


def test_messy_booleans_follow_engine_values() -> None:
    """yes/No/TRUE/0/y/t/blank read as 1.0/0.0/NaN, case and spaces ignored."""
    frame = _messy()
    loyal = frame["Loyalty Member"].tolist()
    assert loyal[:7] == [1.0, 1.0, 0.0, loyal[3], 0.0, 1.0, 1.0]
    assert math.isnan(loyal[3])
    assert frame["Student Verified"].tolist()[:5] == [0.0, 0.0, 1.0, 1.0, 0.0]
    assert math.isnan(frame["Student Verified"].iloc[13])  # NULL


def test_messy_dates_mix_iso_and_compact_forms() -> None:
    """ISO dates, ISO datetimes (T or space) and YYYYMMDD parse per cell; blank and N/A are NaT."""
    dates = _messy()["Signup Date"]
    assert dates.iloc[0] == pd.Timestamp("2025-01-15")
    assert dates.iloc[1] == pd.Timestamp("2025-02-03")
    assert dates.iloc[2] == pd.Timestamp("2025-03-01 12:30:00")
    assert dates.iloc[3] == pd.Timestamp("2025-03-02 18:45")
    assert dates.iloc[8] == pd.Timestamp("2024-02-29")
    assert pd.isna(dates.iloc[5]) and pd.isna(dates.iloc[16])


def test_messy_categories_are_stripped_unicode_with_case_kept() -> None:
    """Categories keep unicode and case, lose surrounding spaces, and missing markers become NaN."""
    frame = _messy()
    assert frame["Campaign"].iloc[1] == "Café Crème"
    assert frame["Campaign"].iloc[2] == "spring_promo"
    assert pd.isna(frame["Campaign"].iloc[3]) and pd.isna(frame["Campaign"].iloc[12])  # N/A, null
    assert frame["Home City"].iloc[2] == "Zürich"
    assert frame["Home City"].iloc[5] == "zürich"
    assert pd.isna(frame["Home City"].iloc[8])  # only spaces


def test_messy_numbers_tolerate_spaces_and_missing_markers() -> None:
    """' 12 ' is 12.0; blank, N/A and '-' are NaN."""
    frame = _messy()
    assert frame["Visits (90d)"].iloc[1] == 12.0
    assert frame["Visits (90d)"].iloc[:4].isna().tolist() == [False, False, True, True]
    assert frame["Spend 365d"].iloc[1] == 1890.5
    assert frame["Spend 365d"].iloc[2:4].isna().all()


def test_messy_target_and_protected_are_stripped_strings() -> None:
    """Tier labels are stripped (' student ' -> 'student'); the protected column stays text."""
    frame = _messy()
    assert frame["Tier"].iloc[3] == "student"
    assert set(frame["Tier"]) == {"vip", "standard", "student"}
    assert frame["Age Band"].iloc[0] == "25-34"
    assert pd.isna(frame["Age Band"].iloc[4]) and pd.isna(frame["Age Band"].iloc[12])


def test_rule_only_columns_are_typed_by_the_rule() -> None:
    """An equals-true rule column reads as a boolean and a min rule column as a number."""
    frame = _messy()
    assert frame["Student Verified"].iloc[2] == 1.0
    assert frame["Lifetime Spend"].iloc[1] == 6200.0
    assert pd.isna(frame["Lifetime Spend"].iloc[3])


def test_scoring_does_not_need_the_target(tmp_path: Path) -> None:
    """with_target=False neither requires nor returns the target column."""
    rows = [r.rsplit(",", 1)[0] for r in GOOD_ROWS]
    path = _csv(tmp_path, rows, header=HEADER.rsplit(",", 1)[0])
    frame = load_customers(path, _spec(), with_target=False)
    assert "tier" not in frame.columns
    assert frame["customer_id"].tolist() == ["001", "002", "003"]


# -- formats -------------------------------------------------------------------------------------


def _as_string_parquet(src: Path, dest: Path) -> None:
    frame = pd.read_csv(src, dtype=str, keep_default_na=False)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), dest)


@pytest.mark.parametrize("fmt", [".csv.gz", ".parquet", ".CSV"])
def test_formats_load_identically(tmp_path: Path, fmt: str) -> None:
    """The same data as CSV, gzip CSV (any case of extension) and Parquet loads to equal frames."""
    dest = tmp_path / f"customers{fmt}"
    if fmt == ".csv.gz":
        dest.write_bytes(gzip.compress(MESSY.read_bytes()))
    elif fmt == ".parquet":
        _as_string_parquet(MESSY, dest)
    else:
        dest.write_bytes(MESSY.read_bytes())
    other = load_customers(dest, load_spec(FIXTURES / "messy_spec.toml"), with_target=True)
    pd.testing.assert_frame_equal(other, _messy())


def test_typed_parquet_columns_read_like_their_text(tmp_path: Path) -> None:
    """Parquet integers, floats, bools and timestamps read as the same text would."""
    table = pa.table(
        {
            "customer_id": pa.array([17, 42, 7], pa.int64()),
            "signup_date": pa.array([pd.Timestamp("2026-03-01"), None, pd.Timestamp("2026-03-03")]),
            "campaign": pa.array([12.0, 3.5, None]),
            "visits_90d": pa.array([3, None, 1], pa.int32()),
            "loyalty_member": pa.array([True, False, None]),
            "student_verified": pa.array([0, 1, 0], pa.int8()),
            "tier": pa.array(["vip", "standard", "student"]).dictionary_encode(),
        }
    )
    path = tmp_path / "typed.parquet"
    pq.write_table(table, path)
    frame = load_customers(path, _spec(), with_target=True)
    assert frame["customer_id"].tolist() == ["17", "42", "7"]
    assert frame["campaign"].iloc[0] == "12" and frame["campaign"].iloc[1] == "3.5"
    assert frame["visits_90d"].dtype == np.float64
    assert frame["loyalty_member"].iloc[:2].tolist() == [1.0, 0.0]
    assert frame["student_verified"].tolist() == [0.0, 1.0, 0.0]
    assert frame["signup_date"].dtype == "datetime64[us]" and pd.isna(frame["signup_date"].iloc[1])
    assert frame["tier"].tolist() == ["vip", "standard", "student"]


def test_parquet_boolean_column_rejects_numbers_other_than_0_and_1(tmp_path: Path) -> None:
    """A Parquet number column declared boolean may hold only 0 and 1."""
    table = pa.table({"customer_id": ["1", "2"], "flag": pa.array([1, 2])})
    path = tmp_path / "flags.parquet"
    pq.write_table(table, path)
    spec = _spec(
        data={"id": "customer_id"},
        features={"boolean": ["flag"]},
        tiers={"names": ["vip", "standard"], "default": "standard"},
    )
    with pytest.raises(
        DataError, match=r"Column 'flag' is declared boolean but holds '2' \(row 2\)"
    ):
        load_customers(path, spec, with_target=False)


# -- agreement with engine.values ----------------------------------------------------------------


def test_every_boolean_and_missing_token_reads_like_parse_bool(tmp_path: Path) -> None:
    """Each engine.values token, in any case and padded, reads as parse_bool reads it."""
    tokens = sorted(TRUE_TOKENS | FALSE_TOKENS | MISSING_TOKENS)
    cells = [v for t in tokens for v in (t, t.upper(), t.title(), f"  {t} ")]
    rows = [f"{i},{c}" for i, c in enumerate(cells)]
    path = _csv(tmp_path, rows, header="customer_id,loyalty_member")
    spec = _spec(
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
    path = _csv(tmp_path, [f'1,"{cell}"'], header="customer_id,visits_90d")
    spec = _spec(
        data={"id": "customer_id"},
        features={"numeric": ["visits_90d"]},
        tiers={"names": ["vip", "standard"], "default": "standard"},
    )
    got = load_customers(path, spec, with_target=False)["visits_90d"].iloc[0]
    want = parse_number(cell)
    assert (math.isnan(got) and math.isnan(want)) or got == want


def test_pyarrow_default_null_markers_do_not_apply(tmp_path: Path) -> None:
    """Only engine.values decides what is missing: pyarrow's own null list is switched off."""
    path = _csv(tmp_path, ["NULL-1,#N/A", "NaN1,-NaN"], header="customer_id,campaign")
    spec = _spec(
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
    frame = load_customers(_csv(tmp_path, rows), _spec(), with_target=True)
    assert frame["customer_id"].tolist() == [" 0017 ", "1.50"]


# -- file errors ---------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    """A path that does not exist is a DataError naming it."""
    with pytest.raises(DataError, match=r"Data file '.*nope\.csv' does not exist"):
        load_customers(tmp_path / "nope.csv", _spec(), with_target=True)


def test_directory(tmp_path: Path) -> None:
    """A directory is refused with a DataError, not an IsADirectoryError."""
    folder = tmp_path / "data.csv"
    folder.mkdir()
    with pytest.raises(DataError, match="is a directory"):
        load_customers(folder, _spec(), with_target=True)


def test_unsupported_extension(tmp_path: Path) -> None:
    """An .xlsx file is refused with the list of supported formats."""
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"PK\x03\x04")
    msg = r"'data\.xlsx' has extension '\.xlsx'; tierline reads \.csv, \.csv\.gz and \.parquet"
    with pytest.raises(DataError, match=msg):
        load_customers(path, _spec(), with_target=True)
    assert SUPPORTED == (".csv", ".csv.gz", ".parquet")


@pytest.mark.parametrize(
    ("name", "content", "pattern"),
    [
        ("empty.csv", b"", r"'empty\.csv' is empty"),
        # mtime=0: the test's id holds the bytes, and both xdist workers must collect the same.
        ("empty.csv.gz", gzip.compress(b"", mtime=0), r"'empty\.csv\.gz' is empty"),
        ("header.csv", (HEADER + "\n").encode(), r"'header\.csv' has a header but no rows"),
        (
            "fake.parquet",
            b"customer_id,tier\n1,vip\n",
            r"'fake\.parquet' cannot be read as Parquet",
        ),
        ("fake.csv.gz", b"customer_id,tier\n1,vip\n", r"'fake\.csv\.gz' cannot be read as gzip"),
        ("binary.csv", bytes(range(256)) * 4, r"'binary\.csv' cannot be read as CSV"),
        (
            "neither.csv",
            f"{HEADER}\n001,2026-03-01,Caf".encode() + b"\x81\xe9,1,yes,no,vip\n",
            r"'neither\.csv' is neither UTF-8 nor Windows-1252/Latin-1 text \(byte 0x81 on line 2\)",
        ),
        ("ragged.csv", f"{HEADER}\n001,2026-03-01,a,1\n".encode(), r"'ragged\.csv' cannot be read"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, content: bytes, pattern: str) -> None:
    """Empty, header-only, corrupt, binary, undecodable and ragged files raise a DataError."""
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=pattern):
        load_customers(path, _spec(), with_target=True)


def test_empty_parquet(tmp_path: Path) -> None:
    """A Parquet file with the columns but no rows is a DataError."""
    path = tmp_path / "none.parquet"
    pq.write_table(pa.table({c: pa.array([], pa.string()) for c in HEADER.split(",")}), path)
    with pytest.raises(DataError, match=r"'none\.parquet' has columns but no rows"):
        load_customers(path, _spec(), with_target=True)


def test_headerless_file(tmp_path: Path) -> None:
    """A file whose first line is data, not column names, is a DataError asking for a header."""
    path = _csv(tmp_path, GOOD_ROWS[1:], header=GOOD_ROWS[0])
    with pytest.raises(DataError, match=r"does not start with a header row.*'customer_id'"):
        load_customers(path, _spec(), with_target=True)


def test_semicolon_file_forced_as_commas_gets_a_delimiter_hint(tmp_path: Path) -> None:
    """A semicolon-separated export read with a forced comma is named as such."""
    path = _csv(tmp_path, [r.replace(",", ";") for r in GOOD_ROWS], header=HEADER.replace(",", ";"))
    with pytest.raises(DataError, match="looks separated by ';'; pass --sep ';'"):
        load_customers(path, _spec(), with_target=True, dialect=CsvDialect(sep=","))


def test_missing_declared_column_is_a_spec_error(tmp_path: Path) -> None:
    """A declared column absent from the header raises SpecError naming it and the file."""
    header = HEADER.replace("visits_90d", "visits")
    with pytest.raises(SpecError, match=r"Column 'visits_90d' is declared numeric.*data\.csv"):
        load_customers(_csv(tmp_path, GOOD_ROWS, header=header), _spec(), with_target=True)


def test_header_names_may_have_stray_spaces(tmp_path: Path) -> None:
    """A header cell ' visits_90d ' matches the declared 'visits_90d'; unrelated duplicates pass."""
    header = HEADER.replace("visits_90d", " visits_90d ") + ",note,note"
    path = _csv(tmp_path, [r + ",a,b" for r in GOOD_ROWS], header=header)
    frame = load_customers(path, _spec(), with_target=True)
    assert "visits_90d" in frame.columns and frame["visits_90d"].tolist() == [3.0, 5.0, 1.0]


def test_duplicated_header_column(tmp_path: Path) -> None:
    """A needed column named twice in the header is ambiguous and refused."""
    path = _csv(tmp_path, [r + ",x" for r in GOOD_ROWS], header=HEADER + ",campaign")
    with pytest.raises(DataError, match="Column 'campaign' appears 2 times"):
        load_customers(path, _spec(), with_target=True)


# -- value errors --------------------------------------------------------------------------------


def _bad(tmp_path: Path, row: str, *, spec: Spec | None = None, with_target: bool = True) -> None:
    """Load GOOD_ROWS with ``row`` appended (row 4)."""
    load_customers(_csv(tmp_path, [*GOOD_ROWS, row]), spec or _spec(), with_target=with_target)


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
    frame = load_customers(_csv(tmp_path, rows), _spec(), with_target=True)
    assert frame["signup_date"].iloc[3] == pd.Timestamp("2026-03-04 10:11:12.123456")
    with pytest.raises(DataError, match=r"'soon' \(line 6\)"):
        load_customers(
            _csv(tmp_path, [*rows, "005,soon,a,1,yes,no,vip"]), _spec(), with_target=True
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
        load_customers(_csv(tmp_path, rows), _spec(), with_target=True)


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
        load_customers(_csv(tmp_path, rows), _spec(), with_target=True)


def test_single_class(tmp_path: Path) -> None:
    """A class target with one label cannot train a model."""
    rows = [r.rsplit(",", 1)[0] + ",standard" for r in GOOD_ROWS]
    with pytest.raises(
        DataError, match="has a single class 'standard'; a model needs at least two"
    ):
        load_customers(_csv(tmp_path, rows), _spec(), with_target=True)


def _target_spec(kind: str, positive: Any = None) -> Spec:
    target: dict[str, Any] = {"kind": kind, "column": "tier"}
    if positive is not None:
        target["positive"] = positive
    return _spec(
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
    frame = load_customers(_csv(tmp_path, rows), _target_spec("binary", positive), with_target=True)
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
        load_customers(_csv(tmp_path, rows), _target_spec("binary", positive), with_target=True)


def test_binary_text_label_differing_only_in_case(tmp_path: Path) -> None:
    """A label that matches [target] positive except for case is refused, not read as negative."""
    rows = [
        r.rsplit(",", 1)[0] + f",{c}" for r, c in zip(GOOD_ROWS, ["yes", "Yes", "no"], strict=True)
    ]
    with pytest.raises(DataError, match=r"'Yes' \(line 3\).*only in case"):
        load_customers(_csv(tmp_path, rows), _target_spec("binary", "yes"), with_target=True)


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
        load_customers(_csv(tmp_path, rows), _target_spec("value"), with_target=True)


def test_value_target_reads_amounts(tmp_path: Path) -> None:
    """An amount target is float64."""
    rows = [
        r.rsplit(",", 1)[0] + f",{c}" for r, c in zip(GOOD_ROWS, ["10", " 2.5", "0"], strict=True)
    ]
    frame = load_customers(_csv(tmp_path, rows), _target_spec("value"), with_target=True)
    assert frame["tier"].tolist() == [10.0, 2.5, 0.0]


def test_entirely_missing_feature_when_training(tmp_path: Path) -> None:
    """A feature with no value in any row is refused for training."""
    rows = [",".join(c if i != 3 else "N/A" for i, c in enumerate(r.split(","))) for r in GOOD_ROWS]
    msg = r"Column 'visits_90d' is empty in data\.csv \(every value is missing\); fill it or remove"
    with pytest.raises(DataError, match=msg):
        load_customers(_csv(tmp_path, rows), _spec(), with_target=True)


def test_entirely_missing_feature_is_allowed_when_scoring(tmp_path: Path) -> None:
    """A batch being scored may lack a feature everywhere, as a single record may."""
    rows = [",".join(c if i != 3 else "" for i, c in enumerate(r.split(","))) for r in GOOD_ROWS]
    frame = load_customers(_csv(tmp_path, rows), _spec(), with_target=False)
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


# -- transactions ----------------------------------------------------------------------------------

TX_HEADER = "customer_id,ts,amount,campaign,channel,student_verified,note"


def _tx_spec() -> Spec:
    return load_spec(Path(__file__).resolve().parents[2] / "examples" / "transactions.toml")


def test_transactions_load_with_repeated_customers(tmp_path: Path) -> None:
    """A log keeps every row in order, customers repeat, and columns are typed."""
    rows = [
        "0017,2026-01-05,12.50,spring,web,no,x",
        "0017,20260107,8,spring,web,no,",
        "0042,2026-01-08 19:30,100, google ,app,yes,",
    ]
    frame = load_transactions(_csv(tmp_path, rows, header=TX_HEADER), _tx_spec())
    assert list(frame.columns) == [
        "customer_id",
        "ts",
        "amount",
        "campaign",
        "channel",
        "student_verified",
    ]
    assert frame["customer_id"].tolist() == ["0017", "0017", "0042"]
    assert frame["ts"].iloc[1] == pd.Timestamp("2026-01-07")
    assert frame["amount"].tolist() == [12.5, 8.0, 100.0]
    assert frame["campaign"].iloc[2] == "google"
    assert frame["student_verified"].tolist() == [0.0, 0.0, 1.0]


def test_transactions_need_a_transactions_section(tmp_path: Path) -> None:
    """A spec without [transactions] cannot read a log."""
    with pytest.raises(SpecError, match=r"no \[transactions\] section"):
        load_transactions(_csv(tmp_path, GOOD_ROWS), _spec())


@pytest.mark.parametrize(
    ("drop", "pattern"),
    [("ts", r"'ts' .*\[transactions\] time"), ("channel", r"'channel' .*\[features\] categorical")],
)
def test_transactions_missing_column(tmp_path: Path, drop: str, pattern: str) -> None:
    """A missing log column raises SpecError naming the column and its spec key."""
    header = TX_HEADER.replace(drop, "other")
    with pytest.raises(SpecError, match=pattern):
        load_transactions(_csv(tmp_path, ["1,2026-01-01,5,a,b,no,"], header=header), _tx_spec())


@pytest.mark.parametrize(
    ("rows", "pattern"),
    [
        (["1,2026-01-01,5,a,b,no,", "1,,5,a,b,no,"], r"'ts' has no value in 1 row"),
        (["1,2026-01-01,5,a,b,no,", "1,2026-01-02,,a,b,no,"], r"'amount' has no value in 1 row"),
        (["1,2026-01-01,five,a,b,no,"], r"'amount' is the amount .* holds 'five' \(line 2\)"),
        (["1,2026-01-01,5,a,b,no,", ",2026-01-02,5,a,b,no,"], r"'customer_id' has no id in line 3"),
    ],
)
def test_transactions_bad_values(tmp_path: Path, rows: list[str], pattern: str) -> None:
    """Missing times, amounts or customers and non-numeric amounts are DataErrors."""
    with pytest.raises(DataError, match=pattern):
        load_transactions(_csv(tmp_path, rows, header=TX_HEADER), _tx_spec())


# -- writing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", SUPPORTED)
def test_write_table_round_trips_a_loaded_frame(tmp_path: Path, fmt: str) -> None:
    """A loaded frame written in any format and loaded again is unchanged."""
    frame = _messy()
    path = tmp_path / "out" / f"customers{fmt}"
    write_table(frame, path)
    again = load_customers(path, load_spec(FIXTURES / "messy_spec.toml"), with_target=True)
    pd.testing.assert_frame_equal(again, frame)


def test_write_table_writes_missing_values_as_empty_cells(tmp_path: Path) -> None:
    """NaN, None and NaT are empty CSV cells, and no index column is written."""
    frame = pd.DataFrame(
        {"id": ["a", "b"], "x": [1.5, np.nan], "s": ["u", None], "t": [pd.Timestamp(0), pd.NaT]}
    )
    path = tmp_path / "out.csv"
    write_table(frame, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and lines[2] == '"b",,,'


def test_write_table_accepts_a_pyarrow_table(tmp_path: Path) -> None:
    """A pyarrow Table is written as is; its NaN floats become empty cells too."""
    path = tmp_path / "out.csv"
    write_table(pa.table({"x": [1.0, float("nan")]}), path)
    assert path.read_text(encoding="utf-8").splitlines() == ['"x"', "1", ""]


def test_write_table_unsupported_extension(tmp_path: Path) -> None:
    """An output with an unknown extension is refused before anything is written."""
    with pytest.raises(DataError, match=r"'out\.xlsx' has extension '\.xlsx'; tierline writes"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "out.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_check_output_path_refuses_bad_outputs_early(tmp_path: Path) -> None:
    """An unknown extension, a directory or a path under a file is refused before any work."""
    assert check_output_path(tmp_path / "new" / "dir" / "scored.csv.gz") == ".csv.gz"
    (tmp_path / "taken.csv").mkdir()
    (tmp_path / "plain").write_text("x", encoding="utf-8")
    for bad, pattern in [
        ("scored.json", "has extension '.json'"),
        ("taken.csv", "is a directory"),
        ("plain/scored.csv", "is not a writable directory"),
    ]:
        with pytest.raises(DataError, match=re.escape(pattern)):
            check_output_path(tmp_path / bad)
    assert not (tmp_path / "new").exists()


def _fail_midway(path: str, schema: pa.Schema) -> None:
    Path(path).write_text("half a fi", encoding="utf-8")
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("fmt", SUPPORTED)
def test_write_table_failure_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """A write that fails midway leaves the previous file intact and no temporary file."""
    path = tmp_path / f"scored{fmt}"
    write_table(pd.DataFrame({"id": ["a"], "tier": ["vip"]}), path)
    before = path.read_bytes()
    monkeypatch.setitem(writing._WRITERS, fmt, _fail_midway)
    with pytest.raises(DataError, match="No space left on device"):
        write_table(pd.DataFrame({"id": ["b"], "tier": ["student"]}), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_write_table_unwritable_value_keeps_the_old_file(tmp_path: Path) -> None:
    """A column pyarrow cannot store is a DataError and the old file is untouched."""
    path = tmp_path / "scored.parquet"
    write_table(pd.DataFrame({"id": ["a"]}), path)
    before = path.read_bytes()
    with pytest.raises(DataError, match=r"Cannot write 'scored\.parquet'"):
        write_table(pd.DataFrame({"id": ["b", "c"], "bad": [object(), 1]}), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_write_table_output_mode_is_not_private(tmp_path: Path) -> None:
    """The renamed output is readable by others like a normally created file (not 0600)."""
    path = tmp_path / "scored.csv"
    write_table(pd.DataFrame({"id": ["a"]}), path)
    assert os.stat(path).st_mode & 0o044 == 0o044


# -- fingerprint ----------------------------------------------------------------------------------


def test_data_fingerprint_is_the_sha256_of_the_bytes() -> None:
    """The fingerprint equals hashlib's SHA-256 of the whole file."""
    assert data_fingerprint(MESSY) == hashlib.sha256(MESSY.read_bytes()).hexdigest()


def test_data_fingerprint_of_missing_file(tmp_path: Path) -> None:
    """Fingerprinting a missing file is a DataError."""
    with pytest.raises(DataError, match="does not exist"):
        data_fingerprint(tmp_path / "gone.csv")
