"""Writing tables atomically: CSV, gzip-compressed CSV or Parquet by extension, whole or a
piece at a time, to a temporary name renamed into place, so that a failure never leaves a
half-written file nor destroys an existing one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
import pyarrow.parquet as pq

from tierline.engine.errors import DataError
from tierline.training.formats import file_format, first_line

__all__ = ["check_output_path", "table_writer", "write_table"]


def write_table(frame: pd.DataFrame | pa.Table, path: str | Path) -> None:
    """Write ``frame`` as CSV, gzip CSV or Parquet (by extension), atomically.

    The data goes to a temporary file beside ``path`` that is renamed into place, so a
    failure never leaves a half-written file nor destroys an existing one.
    """
    with table_writer(path) as write:
        write(frame)


@contextlib.contextmanager
def table_writer(path: str | Path) -> Iterator[Callable[[pd.DataFrame | pa.Table], None]]:
    """``write_table`` a piece at a time: each call of the yielded function appends rows
    (the same columns each time), and the file appears, whole, when the block ends
    without an error; on any error, nothing is left and an existing file is untouched.

    A column the first piece holds only missing values of is written as text, so that
    later pieces with values fit it (the file reads the same).
    """
    target = Path(path)
    fmt = check_output_path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
    except OSError as exc:
        raise DataError(f"Cannot write '{target}': {exc.strerror or exc}") from exc
    sinks: list[tuple[_Sink, pa.Schema]] = []

    def write(frame: pd.DataFrame | pa.Table) -> None:
        table = _as_table(frame, target)
        if fmt != ".parquet":
            table = _nan_as_null(table)  # so missing numbers are empty cells, not "nan"
        with _writing(target):
            if not sinks:
                schema = _texts_for_nulls(table.schema)
                sinks.append((_WRITERS[fmt](tmp, schema), schema))
            sink, schema = sinks[0]
            if not table.schema.equals(schema, check_metadata=False):
                table = table.select(schema.names).cast(schema)
            sink.write_table(table)

    try:
        yield write
        with _writing(target):
            if not sinks:
                raise ValueError("nothing was written")
            sinks.pop()[0].close()
            _fsync(tmp)
            # mkstemp makes the file 0600; give the output the mode a plain open() would have had.
            os.chmod(tmp, target.stat().st_mode & 0o777 if target.exists() else 0o644)
            os.replace(tmp, target)
    except BaseException:
        for sink, _ in sinks:
            with contextlib.suppress(Exception):
                sink.close()
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _writing(target: Path) -> Iterator[None]:
    """Turn pyarrow's and the OS's exceptions while writing into a DataError."""
    try:
        yield
    except (pa.ArrowException, OSError, ValueError, TypeError, KeyError) as exc:
        raise DataError(f"Cannot write '{target}': {first_line(exc)}") from exc


def _as_table(frame: pd.DataFrame | pa.Table, target: Path) -> pa.Table:
    try:
        if isinstance(frame, pa.Table):
            return frame
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise DataError(
            f"Cannot write '{target.name}': a column holds values that do not fit a table "
            f"({first_line(exc)})"
        ) from exc


def _texts_for_nulls(schema: pa.Schema) -> pa.Schema:
    for i, field in enumerate(schema):
        if pa.types.is_null(field.type):
            schema = schema.set(i, field.with_type(pa.string()))
    return schema


def check_output_path(path: str | Path) -> str:
    """Raise ``DataError`` now if ``write_table`` could not write ``path``; return its format.

    Lets a command refuse a bad ``--out`` before minutes of work rather than after.
    """
    target = Path(path)
    fmt = file_format(target, what="Output file", verb="writes")
    if target.is_dir():
        raise DataError(
            f"Output file '{target}' is a directory; give a file name such as scored.csv"
        )
    # The parent may not exist yet (write_table creates it); its nearest existing ancestor
    # must be a directory we can write in.
    ancestor = target.absolute().parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        raise DataError(f"Cannot write '{target}': '{ancestor}' is not a writable directory")
    return fmt


# -- writing ------------------------------------------------------------------------------------


def _nan_as_null(table: pa.Table) -> pa.Table:
    for i, field in enumerate(table.schema):
        if pa.types.is_floating(field.type):
            col = table.column(i)
            table = table.set_column(
                i, field, pc.if_else(pc.is_nan(col), pa.scalar(None, field.type), col)
            )
    return table


class _Sink(Protocol):
    def write_table(self, table: pa.Table) -> None: ...

    def close(self) -> None: ...


class _GzipCsv:
    """A CSV writer into a gzip stream, closing both."""

    def __init__(self, path: str, schema: pa.Schema) -> None:
        self._stream = pa.CompressedOutputStream(path, "gzip")
        self._csv = pv.CSVWriter(self._stream, schema)

    def write_table(self, table: pa.Table) -> None:
        self._csv.write_table(table)

    def close(self) -> None:
        try:
            self._csv.close()
        finally:
            self._stream.close()


# The one seam where bytes reach the disk (tests replace a writer to simulate a failure).
_WRITERS: dict[str, Callable[[str, pa.Schema], _Sink]] = {
    ".csv": pv.CSVWriter,
    ".csv.gz": _GzipCsv,
    ".parquet": pq.ParquetWriter,
}


def _fsync(path: str) -> None:
    # Flush to disk before the rename, so a crash cannot leave a renamed but empty file.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
