"""Real-world CSV files: sniffed delimiters, decimal commas, encodings and amounts of money,
and every bad cell of a file reported at once."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given

from tests.strategies import Amount, amounts
from tierline.engine.errors import DataError
from tierline.engine.spec import Spec, load_spec, parse_spec
from tierline.training.amounts import parse_numbers
from tierline.training.data import CsvDialect, load_customers
from tierline.training.dialect import sniff
from tierline.training.problems import MAX_CELLS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CRM = FIXTURES / "crm_export.csv"
# The same export as a French CRM writes it: semicolons, decimal commas, amounts such as
# "2.310,50 €" or "€35,00", Windows-1252 text and CRLF line ends.
CRM_EU = FIXTURES / "crm_export_eu.csv"


def _crm_spec() -> Spec:
    return load_spec(FIXTURES / "crm_export.toml")


def _crm(path: Path, dialect: CsvDialect | None = None) -> pd.DataFrame:
    return load_customers(path, _crm_spec(), with_target=True, dialect=dialect)


def _rewrite(src: Path, dest: Path, *, sep: str, encoding: str, src_sep: str = ",") -> Path:
    """``src`` rewritten with another delimiter and encoding, cells unchanged."""
    src_encoding = "cp1252" if src == CRM_EU else "utf-8"
    rows = list(csv.reader(io.StringIO(src.read_text(encoding=src_encoding)), delimiter=src_sep))
    out = io.StringIO()
    csv.writer(out, delimiter=sep, lineterminator="\n").writerows(rows)
    dest.write_bytes(out.getvalue().encode(encoding))
    return dest


def _spend_spec() -> Spec:
    raw: dict[str, Any] = {
        "data": {"id": "id"},
        "features": {"numeric": ["spend", "visits"], "boolean": ["member"]},
        "target": {"kind": "class", "column": "tier"},
        "tiers": {"names": ["vip", "standard"], "default": "standard"},
    }
    return parse_spec(raw, source="test spec")


def _spend_file(tmp_path: Path, rows: list[str], *, sep: str = ",") -> Path:
    path = tmp_path / "spend.csv"
    header = sep.join(["id", "spend", "visits", "member", "tier"])
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


# -- dialects ----------------------------------------------------------------------------------


def test_european_export_reads_like_the_original() -> None:
    """A semicolon, decimal-comma, Windows-1252 export with € amounts reads to the same frame."""
    pd.testing.assert_frame_equal(_crm(CRM_EU), _crm(CRM))


def test_european_export_compressed(tmp_path: Path) -> None:
    """The dialect is sniffed through gzip compression too."""
    path = tmp_path / "crm.csv.gz"
    path.write_bytes(gzip.compress(CRM_EU.read_bytes(), mtime=0))
    pd.testing.assert_frame_equal(_crm(path), _crm(CRM))


def test_european_export_saved_as_utf8_with_a_bom(tmp_path: Path) -> None:
    """The same export saved as UTF-8 with a byte-order mark (Excel's "CSV UTF-8") reads alike."""
    path = _rewrite(CRM_EU, tmp_path / "bom.csv", sep=";", encoding="utf-8-sig", src_sep=";")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    pd.testing.assert_frame_equal(_crm(path), _crm(CRM))


def test_tab_separated_export(tmp_path: Path) -> None:
    """A tab-separated export reads to the same frame as the comma-separated one."""
    path = _rewrite(CRM, tmp_path / "tabs.csv", sep="\t", encoding="utf-8")
    pd.testing.assert_frame_equal(_crm(path), _crm(CRM))


def test_windows_1252_comma_file_keeps_its_accents(tmp_path: Path) -> None:
    """A comma-separated Windows-1252 file is transcoded: 'Café Crème' stays 'Café Crème'."""
    path = _rewrite(CRM, tmp_path / "cp1252.csv", sep=",", encoding="cp1252")
    frame = _crm(path)
    assert "Café Crème" in set(frame["Campaign"])
    pd.testing.assert_frame_equal(frame, _crm(CRM))


@pytest.mark.parametrize(
    ("sample", "sep", "decimal", "encoding"),
    [
        (b"id,spend\n1,2.5\n2,3\n", ",", ".", "utf8"),
        (b"id;spend\n1;2,50\n2;1.234,50\n", ";", ",", "utf8"),
        (b"id\tspend\n1\t12,5\n", "\t", ",", "utf8"),
        (b"id|spend|note\n1|2.5|a;b\n", "|", ".", "utf8"),
        (b"id;spend\n1;3.25\n", ";", ".", "utf8"),
        (b"id;city\n1;S\xe8te\n", ";", ".", "cp1252"),
        (b"\xef\xbb\xbfid;city\n1;S\xc3\xa8te\n", ";", ".", "utf8"),
        (b'id,note\n1,"a; b; c"\n', ",", ".", "utf8"),
    ],
)
def test_sniff(sample: bytes, sep: str, decimal: str, encoding: str) -> None:
    """The delimiter, decimal mark and encoding come from the file's first bytes."""
    got = sniff(sample, name="x.csv", forced=CsvDialect())
    assert (got.sep, got.decimal, got.encoding) == (sep, decimal, encoding)


def test_forced_dialect_wins_over_the_sniffer(tmp_path: Path) -> None:
    """--decimal , reads 1.234 as a thousand and more; sniffed, it is a little over one."""
    path = _spend_file(tmp_path, ["1;1.234;2;yes;vip", "2;5;1;no;standard"], sep=";")
    assert load_customers(path, _spend_spec(), with_target=True)["spend"].iloc[0] == 1.234
    forced = CsvDialect(sep=";", decimal=",")
    frame = load_customers(path, _spend_spec(), with_target=True, dialect=forced)
    assert frame["spend"].tolist() == [1234.0, 5.0]


def test_unknown_forced_separator_is_refused() -> None:
    """A separator tierline does not read is refused by name."""
    with pytest.raises(DataError, match="':' is not one tierline reads"):
        CsvDialect(sep=":")


def test_mixed_encoding_names_the_first_bad_line(tmp_path: Path) -> None:
    """A UTF-8 file with a Windows-1252 line past the sniffed sample names that line."""
    rows = [f"{i},{i}.5,1,yes,{'vip' if i % 2 else 'standard'}" for i in range(6000)]
    rows.append("6000,1,1,yes,caf\xe9")
    path = tmp_path / "mixed.csv"
    body = "\n".join(["id,spend,visits,member,tier", *rows]) + "\n"
    path.write_bytes(body.encode("cp1252"))
    with pytest.raises(DataError, match=r"save the whole file as UTF-8 text \(line 6002 is not\)"):
        load_customers(path, _spend_spec(), with_target=True)


# -- amounts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "want"),
    [
        ("€40", 40.0),
        ("40 €", 40.0),
        ("$ 12.5", 12.5),
        ('"£1,000"', 1000.0),
        ('"1,234.50"', 1234.5),
        ("-€5", -5.0),
        ("1 500", 1500.0),
    ],
)
def test_amounts_with_a_decimal_point(tmp_path: Path, cell: str, want: float) -> None:
    """Currency symbols, spaces and thousands commas are dropped from a numeric cell."""
    path = _spend_file(tmp_path, [f"1,{cell},2,yes,vip", "2,3,1,no,standard"])
    assert load_customers(path, _spend_spec(), with_target=True)["spend"].iloc[0] == want


@pytest.mark.parametrize(
    ("cell", "want"),
    [("1.234,50 €", 1234.5), ("€12,5", 12.5), ("1 234,50", 1234.5), ("-3,25", -3.25), ("7", 7.0)],
)
def test_amounts_with_a_decimal_comma(tmp_path: Path, cell: str, want: float) -> None:
    """In a decimal-comma file, points group thousands and the comma marks the decimals."""
    path = _spend_file(tmp_path, [f"1;{cell};2;yes;vip", "2;3,5;1;no;standard"], sep=";")
    assert load_customers(path, _spend_spec(), with_target=True)["spend"].iloc[0] == want


@pytest.mark.parametrize(
    ("rows", "sep", "advice"),
    [
        (['1,"12,50",2,yes,vip', "2,3.5,1,no,standard"], ",", "or pass --decimal , for"),
        (["1;12.50;2;yes;vip", "2;3,5;1;no;standard", "3;4,25;1;no;vip"], ";", "--decimal ."),
    ],
)
def test_ambiguous_amounts_are_refused_with_money_advice(
    tmp_path: Path, rows: list[str], sep: str, advice: str
) -> None:
    """An amount that reads two ways is refused with how to write it, never 'categorical'."""
    path = _spend_file(tmp_path, rows, sep=sep)
    with pytest.raises(DataError) as info:
        load_customers(path, _spend_spec(), with_target=True)
    message = str(info.value)
    assert "(line 2)" in message and advice in message
    assert "categorical" not in message


@given(amount=amounts())
def test_every_written_amount_reads_as_its_value(amount: Amount) -> None:
    """Any amount written with a symbol, a grouping and the file's decimal mark reads exactly."""
    parsed = parse_numbers(pa.chunked_array([[amount.text]]), decimal=amount.decimal)
    assert parsed.bad is None, amount.text
    assert parsed.values[0].as_py() == pytest.approx(amount.cents / 100, abs=1e-9, rel=1e-15)


# -- every problem at once -------------------------------------------------------------------


def test_every_bad_cell_is_listed_by_column_with_its_line(tmp_path: Path) -> None:
    """Bad cells in several columns are all named, grouped by column in spec order."""
    rows = [
        "1,12,3,yes,vip",
        "2,lots,3,maybe,standard",
        "3,€4,x,yes,gold",
        "4,5,2,sometimes,vip",
    ]
    with pytest.raises(DataError) as info:
        load_customers(_spend_file(tmp_path, rows), _spend_spec(), with_target=True)
    lines = str(info.value).splitlines()
    assert lines[0] == "Data file 'spend.csv' has 4 problems; fix them all, then run again:"
    assert lines[1:] == [
        "- Column 'spend' is declared numeric but holds 'lots' (line 3) in spend.csv; "
        "fix the value or declare the column categorical",
        "- Column 'visits' is declared numeric but holds 'x' (line 4) in spend.csv; "
        "fix the value or declare the column categorical",
        "- Column 'member' is declared boolean but holds 'maybe' (line 3), 'sometimes' "
        "(line 5) in spend.csv; write 1/1.0/t/true/y/yes for yes, 0/0.0/f/false/n/no for no "
        "(any case), or a blank cell when unknown",
        "- Column 'tier' holds unknown tier label 'gold' (line 4) in spend.csv; "
        "known tiers: vip, standard",
    ]


def test_many_bad_cells_are_capped_and_counted(tmp_path: Path) -> None:
    """A column full of bad cells names the first few and counts the rest."""
    rows = [f"{i},n{i},1,yes,{'vip' if i % 2 else 'standard'}" for i in range(MAX_CELLS + 15)]
    with pytest.raises(DataError) as info:
        load_customers(_spend_file(tmp_path, rows), _spend_spec(), with_target=True)
    message = str(info.value)
    assert "'n0' (line 2), 'n1' (line 3)" in message and "and 15 more" in message
    assert f"'n{MAX_CELLS}'" not in message


def test_bad_times_and_ids_are_listed_together(tmp_path: Path) -> None:
    """Missing ids and dates that do not parse are all named in one message."""
    spec = parse_spec(
        {
            "data": {"id": "id", "time": "since"},
            "features": {"numeric": ["visits"]},
            "target": {"kind": "class", "column": "tier"},
            "tiers": {"names": ["vip", "standard"], "default": "standard"},
        },
        source="test spec",
    )
    path = tmp_path / "times.csv"
    rows = ["1,2026-01-01,1,vip", ",2026-02-30,2,standard", "3,soon,1,vip", ",20260230,1,vip"]
    path.write_text("\n".join(["id,since,visits,tier", *rows]) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_customers(path, spec, with_target=True)
    message = str(info.value)
    assert "'id' has no id in lines 3, 5 of times.csv (2 rows without one)" in message
    assert "'2026-02-30' (line 3), 'soon' (line 4), '20260230' (line 5)" in message
