"""A user's data file opened for reading: its format and CSV dialect, its header, and its
columns read with pyarrow (every CSV column as text), whole or a chunk at a time, with
pyarrow's and the OS's errors turned into messages that name the file."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pv
import pyarrow.parquet as pq

from tierline.engine.errors import DataError
from tierline.training.dialect import (
    SEPARATORS,
    CsvDialect,
    Sniffed,
    bad_utf8_line,
    read_sample,
    sniff,
)
from tierline.training.formats import file_format, first_line

__all__ = [
    "CSV_BLOCK_BYTES",
    "DataFile",
    "batches",
    "check_exists",
    "check_is_header",
    "csv_options",
    "csv_stream",
    "guarded",
    "header_name",
    "header_names",
    "header_of",
    "open_data",
    "read_chunks",
    "read_columns",
    "reading",
    "text_columns",
]

CSV_BLOCK_BYTES = 4 << 20  # a streamed CSV's read unit: big enough for pyarrow's threads


@dataclass(frozen=True)
class DataFile:
    path: Path
    fmt: str  # one of SUPPORTED
    dialect: Sniffed | None = None  # CSV only

    @property
    def decimal(self) -> str:
        return self.dialect.decimal if self.dialect else "."

    @property
    def name(self) -> str:
        return self.path.name


# -- opening, headers and reading ---------------------------------------------------------------


def check_exists(path: Path) -> None:
    if not path.exists():
        raise DataError(f"Data file '{path}' does not exist")
    if path.is_dir():
        raise DataError(
            f"Data file '{path}' is a directory; give the path of a .csv, .csv.gz or .parquet file"
        )


def open_data(path: str | Path, dialect: CsvDialect | None = None) -> DataFile:
    p = Path(path)
    check_exists(p)
    file = DataFile(p, file_format(p))
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise DataError(f"Data file '{p.name}' cannot be read: {exc.strerror or exc}") from exc
    if size == 0:
        raise DataError(f"Data file '{p.name}' is empty (0 bytes)")
    if file.fmt == ".parquet":
        return file
    with reading(file), csv_stream(file) as stream:
        sample = read_sample(stream)
    return replace(file, dialect=sniff(sample, name=file.name, forced=dialect or CsvDialect()))


@contextlib.contextmanager
def reading(file: DataFile) -> Iterator[None]:
    """Turn pyarrow's and the OS's exceptions into a DataError that names the file."""
    try:
        yield
    except (pa.ArrowException, OSError, ValueError, EOFError) as exc:
        detail = first_line(exc)
        if "Empty CSV file" in detail:
            raise DataError(f"Data file '{file.name}' is empty (it has no header row)") from exc
        kind = {".csv": "CSV", ".csv.gz": "gzip-compressed CSV", ".parquet": "Parquet"}[file.fmt]
        hint = ""
        if "utf8" in detail.lower().replace("-", ""):
            # The sniffed sample was UTF-8 but a later line is not: the file mixes encodings.
            line = bad_utf8_line(file.path, gzip=file.fmt == ".csv.gz")
            where = f" (line {line} is not)" if line else ""
            hint = f"; save the whole file as UTF-8 text{where}"
        raise DataError(
            f"Data file '{file.name}' cannot be read as {kind}: {detail}{hint}"
        ) from exc


def csv_stream(file: DataFile) -> pa.NativeFile:
    # Compression is chosen here rather than left to pyarrow's guess from the name, so that
    # upper-case names such as DATA.CSV.GZ work too.
    return pa.input_stream(str(file.path), compression="gzip" if file.fmt == ".csv.gz" else None)


def csv_options(file: DataFile) -> dict[str, Any]:
    assert file.dialect is not None
    return {
        # Quoted notes may span lines (costs ~20 %).
        "parse_options": pv.ParseOptions(delimiter=file.dialect.sep, newlines_in_values=True),
        # pyarrow skips a UTF-8 byte-order mark itself; other encodings are transcoded.
        "read_options": pv.ReadOptions(encoding=file.dialect.encoding),
    }


def header_of(file: DataFile) -> list[str]:
    with reading(file):
        if file.fmt == ".parquet":
            return list(pq.read_schema(str(file.path)).names)
        with csv_stream(file) as stream, pv.open_csv(stream, **csv_options(file)) as reader:
            return list(reader.schema.names)


def check_is_header(header: list[str], declared: tuple[str, ...], file: DataFile) -> None:
    """A first line that names none of the declared columns is data or garbage, not a header."""
    if header_names(header) & set(declared):
        return
    seen = ", ".join(repr(h) for h in header[:4]) + (", ..." if len(header) > 4 else "")
    expected = ", ".join(repr(c) for c in declared[:4])
    hint = "add a header row"
    if len(header) == 1 and file.fmt != ".parquet":
        sep = next((s for s in SEPARATORS if s in header[0]), None)
        if sep:
            hint = f"it looks separated by {sep!r}; pass --sep {sep!r}, or leave --sep out"
    raise DataError(
        f"Data file '{file.name}' does not start with a header row naming the spec's columns "
        f"(its first line reads {seen}; expected names such as {expected}); {hint}"
    )


def header_names(header: list[str]) -> set[str]:
    """The column names a header offers: as written, and without stray surrounding spaces."""
    return set(header) | {h.strip() for h in header}


def header_name(col: str, header: list[str], file: DataFile) -> str:
    """The header entry holding ``col``: the exact name, else the one that differs by spaces."""
    matches = [h for h in header if h == col] or [h for h in header if h.strip() == col]
    if len(matches) > 1:
        raise DataError(
            f"Column '{col}' appears {len(matches)} times in the header of {file.name}; "
            f"rename the copies"
        )
    return matches[0]


def read_columns(file: DataFile, columns: list[str], header: list[str]) -> pa.Table:
    """The named columns, in that order and under those names, typed as text (CSV)."""
    actual = [header_name(col, header, file) for col in columns]
    with reading(file):
        if file.fmt == ".parquet":
            table = pq.read_table(str(file.path), columns=actual, use_threads=True)
        else:
            with csv_stream(file) as stream:
                table = pv.read_csv(
                    stream, convert_options=text_columns(actual), **csv_options(file)
                )
    if table.num_rows == 0:
        has = "columns" if file.fmt == ".parquet" else "a header"
        raise DataError(f"Data file '{file.name}' has {has} but no rows")
    return table.select(actual).rename_columns(columns)


def read_chunks(
    file: DataFile, columns: list[str], header: list[str], *, chunk_rows: int
) -> Iterator[pa.Table]:
    """``read_columns`` in tables of ``chunk_rows`` rows (the last one shorter), read as asked for."""
    actual = [header_name(col, header, file) for col in columns]
    pending: list[pa.RecordBatch] = []
    held = seen = 0
    for batch in batches(file, actual, chunk_rows):
        pending.append(batch)
        held += batch.num_rows
        while held >= chunk_rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, chunk_rows).select(actual).rename_columns(columns)
            rest = table.slice(chunk_rows)
            pending, held = rest.to_batches(), rest.num_rows
            seen += chunk_rows
    if held or not seen:
        if not held:
            has = "columns" if file.fmt == ".parquet" else "a header"
            raise DataError(f"Data file '{file.name}' has {has} but no rows")
        table = pa.Table.from_batches(pending)
        yield table.select(actual).rename_columns(columns)


def batches(file: DataFile, actual: list[str], chunk_rows: int) -> Iterator[pa.RecordBatch]:
    """The file's record batches (the columns as ``read_columns`` types them), as pyarrow reads them."""
    if file.fmt == ".parquet":
        with reading(file):
            parquet = pq.ParquetFile(str(file.path))
        with parquet:
            batches = parquet.iter_batches(batch_size=chunk_rows, columns=actual, use_threads=True)
            yield from guarded(file, batches)
        return
    options = csv_options(file)
    options["read_options"].block_size = CSV_BLOCK_BYTES
    with reading(file):
        stream = csv_stream(file)
    with stream:
        with reading(file):
            reader = pv.open_csv(stream, convert_options=text_columns(actual), **options)
        yield from guarded(file, reader)


def guarded(file: DataFile, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Each batch, a read error becoming the file's ``DataError`` (``reading``)."""
    it = iter(batches)
    while True:
        with reading(file):
            batch = next(it, None)
        if batch is None:
            return
        yield batch


def text_columns(actual: list[str]) -> pv.ConvertOptions:
    # Every column as text, with no value turned into null: ids stay exactly as written
    # and engine.values alone decides what counts as missing.
    return pv.ConvertOptions(
        include_columns=actual,
        column_types=dict.fromkeys(actual, pa.string()),
        null_values=[],
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
