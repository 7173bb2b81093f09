"""Writing tables atomically (training.writing): round trips, refused outputs, and a
failure that keeps the old file."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from tests.training.conftest import (
    FIXTURES,
    messy_customers,
)
from tierline.engine.errors import DataError
from tierline.engine.spec import load_spec
from tierline.training import writing
from tierline.training.data import load_customers
from tierline.training.formats import SUPPORTED
from tierline.training.writing import check_output_path, write_table


@pytest.mark.parametrize("fmt", SUPPORTED)
def test_write_table_round_trips_a_loaded_frame(tmp_path: Path, fmt: str) -> None:
    """A loaded frame written in any format and loaded again is unchanged."""
    frame = messy_customers()
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
