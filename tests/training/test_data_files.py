"""Reading users' files (training.data, training.files): formats, files that cannot be read,
headers, transaction logs and the data fingerprint."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.training.conftest import (
    FIXTURES,
    GOOD_ROWS,
    HEADER,
    MESSY,
    messy_customers,
    table_spec,
    write_csv,
)
from tierline.engine.errors import DataError, SpecError
from tierline.engine.spec import Spec, load_spec
from tierline.training.data import CsvDialect, data_fingerprint, load_customers, load_transactions
from tierline.training.formats import SUPPORTED

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
    pd.testing.assert_frame_equal(other, messy_customers())


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
    frame = load_customers(path, table_spec(), with_target=True)
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
    spec = table_spec(
        data={"id": "customer_id"},
        features={"boolean": ["flag"]},
        tiers={"names": ["vip", "standard"], "default": "standard"},
    )
    with pytest.raises(
        DataError, match=r"Column 'flag' is declared boolean but holds '2' \(row 2\)"
    ):
        load_customers(path, spec, with_target=False)


# -- file errors ---------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    """A path that does not exist is a DataError naming it."""
    with pytest.raises(DataError, match=r"Data file '.*nope\.csv' does not exist"):
        load_customers(tmp_path / "nope.csv", table_spec(), with_target=True)


def test_directory(tmp_path: Path) -> None:
    """A directory is refused with a DataError, not an IsADirectoryError."""
    folder = tmp_path / "data.csv"
    folder.mkdir()
    with pytest.raises(DataError, match="is a directory"):
        load_customers(folder, table_spec(), with_target=True)


def test_unsupported_extension(tmp_path: Path) -> None:
    """An .xlsx file is refused with the list of supported formats."""
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"PK\x03\x04")
    msg = r"'data\.xlsx' has extension '\.xlsx'; tierline reads \.csv, \.csv\.gz and \.parquet"
    with pytest.raises(DataError, match=msg):
        load_customers(path, table_spec(), with_target=True)
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
        load_customers(path, table_spec(), with_target=True)


def test_empty_parquet(tmp_path: Path) -> None:
    """A Parquet file with the columns but no rows is a DataError."""
    path = tmp_path / "none.parquet"
    pq.write_table(pa.table({c: pa.array([], pa.string()) for c in HEADER.split(",")}), path)
    with pytest.raises(DataError, match=r"'none\.parquet' has columns but no rows"):
        load_customers(path, table_spec(), with_target=True)


def test_headerless_file(tmp_path: Path) -> None:
    """A file whose first line is data, not column names, is a DataError asking for a header."""
    path = write_csv(tmp_path, GOOD_ROWS[1:], header=GOOD_ROWS[0])
    with pytest.raises(DataError, match=r"does not start with a header row.*'customer_id'"):
        load_customers(path, table_spec(), with_target=True)


def test_semicolon_file_forced_as_commas_gets_a_delimiter_hint(tmp_path: Path) -> None:
    """A semicolon-separated export read with a forced comma is named as such."""
    path = write_csv(
        tmp_path, [r.replace(",", ";") for r in GOOD_ROWS], header=HEADER.replace(",", ";")
    )
    with pytest.raises(DataError, match="looks separated by ';'; pass --sep ';'"):
        load_customers(path, table_spec(), with_target=True, dialect=CsvDialect(sep=","))


def test_missing_declared_column_is_a_spec_error(tmp_path: Path) -> None:
    """A declared column absent from the header raises SpecError naming it and the file."""
    header = HEADER.replace("visits_90d", "visits")
    with pytest.raises(SpecError, match=r"Column 'visits_90d' is declared numeric.*data\.csv"):
        load_customers(
            write_csv(tmp_path, GOOD_ROWS, header=header), table_spec(), with_target=True
        )


def test_header_names_may_have_stray_spaces(tmp_path: Path) -> None:
    """A header cell ' visits_90d ' matches the declared 'visits_90d'; unrelated duplicates pass."""
    header = HEADER.replace("visits_90d", " visits_90d ") + ",note,note"
    path = write_csv(tmp_path, [r + ",a,b" for r in GOOD_ROWS], header=header)
    frame = load_customers(path, table_spec(), with_target=True)
    assert "visits_90d" in frame.columns and frame["visits_90d"].tolist() == [3.0, 5.0, 1.0]


def test_duplicated_header_column(tmp_path: Path) -> None:
    """A needed column named twice in the header is ambiguous and refused."""
    path = write_csv(tmp_path, [r + ",x" for r in GOOD_ROWS], header=HEADER + ",campaign")
    with pytest.raises(DataError, match="Column 'campaign' appears 2 times"):
        load_customers(path, table_spec(), with_target=True)


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
    frame = load_transactions(write_csv(tmp_path, rows, header=TX_HEADER), _tx_spec())
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
        load_transactions(write_csv(tmp_path, GOOD_ROWS), table_spec())


@pytest.mark.parametrize(
    ("drop", "pattern"),
    [("ts", r"'ts' .*\[transactions\] time"), ("channel", r"'channel' .*\[features\] categorical")],
)
def test_transactions_missing_column(tmp_path: Path, drop: str, pattern: str) -> None:
    """A missing log column raises SpecError naming the column and its spec key."""
    header = TX_HEADER.replace(drop, "other")
    with pytest.raises(SpecError, match=pattern):
        load_transactions(
            write_csv(tmp_path, ["1,2026-01-01,5,a,b,no,"], header=header), _tx_spec()
        )


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
        load_transactions(write_csv(tmp_path, rows, header=TX_HEADER), _tx_spec())


# -- fingerprint ----------------------------------------------------------------------------------


def test_data_fingerprint_is_the_sha256_of_the_bytes() -> None:
    """The fingerprint equals hashlib's SHA-256 of the whole file."""
    assert data_fingerprint(MESSY) == hashlib.sha256(MESSY.read_bytes()).hexdigest()


def test_data_fingerprint_of_missing_file(tmp_path: Path) -> None:
    """Fingerprinting a missing file is a DataError."""
    with pytest.raises(DataError, match="does not exist"):
        data_fingerprint(tmp_path / "gone.csv")
