"""Reading users' data files into typed frames, and writing tables atomically.

A data file is CSV, gzip-compressed CSV or Parquet. A CSV file's delimiter, decimal mark
and encoding are sniffed (``training.dialect``) unless forced. Only the columns the spec
names are read (pyarrow, multithreaded, every CSV column as text), then each column is
typed by its declared role (``training.columns``). A file that cannot be read at all is a
``DataError`` at once (or a ``SpecError`` for a column the spec declares but the file
lacks); bad values are collected (``training.problems``) and raised as one ``DataError``
that lists them all, by column, with their lines.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
import pyarrow.parquet as pq

from tierline.engine.errors import DataError, SpecError
from tierline.engine.spec import TRANSACTION_FEATURES, Rule, Spec, missing_column
from tierline.training import columns as typed_columns
from tierline.training.columns import BOOLEAN, ID, NUMBER, TEXT, TIME
from tierline.training.dialect import (
    SEPARATORS,
    CsvDialect,
    Sniffed,
    bad_utf8_line,
    read_sample,
    sniff,
)
from tierline.training.problems import Problems

__all__ = [
    "SUPPORTED",
    "CsvDialect",
    "boolean_columns",
    "check_output_path",
    "check_unique_ids",
    "data_fingerprint",
    "load_customers",
    "load_transactions",
    "read_customer_chunks",
    "table_writer",
    "write_table",
]

SUPPORTED = (".csv", ".csv.gz", ".parquet")
_CSV_BLOCK_BYTES = 4 << 20  # a streamed CSV's read unit: big enough for pyarrow's threads


@dataclass(frozen=True)
class _DataFile:
    path: Path
    fmt: str  # one of SUPPORTED
    dialect: Sniffed | None = None  # CSV only

    @property
    def decimal(self) -> str:
        return self.dialect.decimal if self.dialect else "."

    @property
    def name(self) -> str:
        return self.path.name


# -- public API ----------------------------------------------------------------------------


def load_customers(
    path: str | Path,
    spec: Spec,
    *,
    with_target: bool,
    dialect: CsvDialect | None = None,
    model: str | None = None,
) -> pd.DataFrame:
    """Read a customer table (one row per customer), typed by the spec, rows in file order.

    ``dialect`` forces a CSV file's delimiter or decimal mark (default: sniffed);
    ``model`` names the version whose spec this is (its errors then ask for the data to
    change, not the spec). Raises
    ``SpecError`` when a declared column is missing from the file and ``DataError`` when
    the file is unreadable or values do not fit their declared types (all of them listed).
    """
    frame = _load_customers(path, spec, with_target=with_target, dialect=dialect, model=model)
    _release_arrow_memory()
    return frame


def _release_arrow_memory() -> None:
    # pyarrow's allocator keeps the freed read buffers (about twice the frame's size on
    # 1M rows); handing them back keeps training's peak memory near the frame itself.
    pa.default_memory_pool().release_unused()


def _load_customers(
    path: str | Path,
    spec: Spec,
    *,
    with_target: bool,
    dialect: CsvDialect | None,
    model: str | None,
) -> pd.DataFrame:
    plan = _customer_plan(path, spec, with_target=with_target, dialect=dialect, model=model)
    table = _read(plan.file, plan.wanted, plan.header)
    return _typed_customers(table, plan, spec, first_row=0, whole=True)


def read_customer_chunks(
    path: str | Path,
    spec: Spec,
    *,
    chunk_rows: int,
    dialect: CsvDialect | None = None,
    model: str | None = None,
) -> Iterator[pd.DataFrame]:
    """``load_customers`` (to score: no target) in frames of ``chunk_rows`` rows, in file
    order, read as they are asked for, so memory does not grow with the file.

    Each chunk is checked as the whole file is, with the file's own line numbers, and its
    problems are raised when it is reached. Ids are not checked for uniqueness across
    chunks here (``check_unique_ids`` does it on request).
    """
    plan = _customer_plan(path, spec, with_target=False, dialect=dialect, model=model)
    first_row = 0
    for table in _read_chunks(plan.file, plan.wanted, plan.header, chunk_rows=chunk_rows):
        yield _typed_customers(table, plan, spec, first_row=first_row, whole=False)
        first_row += table.num_rows


def check_unique_ids(
    path: str | Path, spec: Spec, *, dialect: CsvDialect | None = None, model: str | None = None
) -> None:
    """Raise the ``DataError`` ``load_customers`` gives for repeated ids, reading only the
    id column; nothing if the ids are unique."""
    plan = _customer_plan(path, spec, with_target=False, dialect=dialect, model=model)
    table = _read(plan.file, [spec.id], plan.header)
    report = _problems(plan.file)
    ids = _to_frame(
        _run_all({spec.id: _job(table, spec.id, ID, plan.file, report)}), order=[spec.id]
    )
    _check_unique(ids[spec.id], column=spec.id, report=report)
    report.raise_if_any([spec.id])


@dataclass(frozen=True)
class _CustomerPlan:
    file: _DataFile
    header: list[str]
    kinds: dict[str, str]
    wanted: list[str]
    target: str | None
    with_target: bool


def _customer_plan(
    path: str | Path,
    spec: Spec,
    *,
    with_target: bool,
    dialect: CsvDialect | None,
    model: str | None,
) -> _CustomerPlan:
    """The file, its header and the columns to read, each with its kind (checked)."""
    file = _open(path, dialect)
    header = _header(file)
    names = _names(header)
    _check_is_header(header, spec.input_columns(with_target=with_target), file)
    spec.check_columns(names, source=file.name, with_target=with_target, model=model)
    kinds = {spec.id: ID} | ({spec.time: TIME} if spec.time else {})
    for col, kind in _feature_kinds(spec, numeric=spec.numeric).items():
        kinds.setdefault(col, kind)  # a rule on the id or time column keeps that role's type
    target = spec.target_column if with_target and spec.transactions is None else None
    wanted = [*kinds, *([target] if target else [])]
    if with_target and spec.treatment is not None:
        wanted.append(spec.treatment.column)  # read as text: arms are names
    wanted += [c for c in spec.protected if c in names and c not in wanted]
    return _CustomerPlan(file, header, kinds, wanted, target, with_target)


def _typed_customers(
    table: pa.Table, plan: _CustomerPlan, spec: Spec, *, first_row: int, whole: bool
) -> pd.DataFrame:
    """The read text columns typed by kind; ``whole``: the table is the whole file (its
    ids can be checked for repeats)."""
    file, kinds, wanted, target = plan.file, plan.kinds, plan.wanted, plan.target
    report = Problems(file.name, lines=file.fmt != ".parquet", first_row=first_row)
    jobs = {col: _job(table, col, kinds.get(col, TEXT), file, report) for col in wanted}
    if target:
        jobs[target] = partial(
            typed_columns.target,
            table.column(target),
            spec=spec,
            report=report,
            decimal=file.decimal,
        )
    frame = _to_frame(_run_all(jobs), order=wanted)
    if whole:
        _check_unique(frame[spec.id], column=spec.id, report=report)
    if plan.with_target:
        # Only when training: a batch being scored may lack a value everywhere (one new
        # customer with no email_open_rate) and must score like the single-record path.
        _check_filled(frame, spec.categorical + spec.numeric + spec.boolean, report)
    report.raise_if_any(wanted)
    return frame


def _problems(file: _DataFile) -> Problems:
    return Problems(file.name, lines=file.fmt != ".parquet")


def _job(
    table: pa.Table, col: str, kind: str, file: _DataFile, report: Problems
) -> Callable[[], pa.ChunkedArray]:
    return partial(
        typed_columns.typed,
        table.column(col),
        kind=kind,
        column=col,
        report=report,
        decimal=file.decimal,
    )


def load_transactions(
    path: str | Path, spec: Spec, *, dialect: CsvDialect | None = None, model: str | None = None
) -> pd.DataFrame:
    """Read a transaction log (one row per purchase), typed by the spec, rows in file order.

    The customer column repeats; per-customer feature columns are typed as in a customer
    table; ``model`` as for ``load_customers``. Raises ``SpecError`` for a missing column
    and ``DataError`` for bad values.
    """
    frame = _load_transactions(path, spec, dialect=dialect, model=model)
    _release_arrow_memory()
    return frame


def _load_transactions(
    path: str | Path, spec: Spec, *, dialect: CsvDialect | None, model: str | None
) -> pd.DataFrame:
    tx = spec.transactions
    if tx is None:
        raise SpecError(
            f"The spec has no [transactions] section, so '{Path(path).name}' cannot be read as "
            f"a transaction log; add [transactions] customer, time and amount"
        )
    file = _open(path, dialect)
    header = _header(file)
    numeric = tuple(c for c in spec.numeric if c not in TRANSACTION_FEATURES)
    kinds = {tx.customer: ID, tx.time: TIME, tx.amount: NUMBER}
    kinds |= {c: k for c, k in _feature_kinds(spec, numeric=numeric).items() if c not in kinds}
    if spec.time and spec.time not in kinds:
        kinds[spec.time] = TIME
    _check_is_header(header, tuple(kinds), file)
    _check_transaction_columns(header, spec=spec, numeric=numeric, file=file, model=model)
    wanted = [*kinds, *(c for c in spec.protected if c in _names(header) and c not in kinds)]
    table = _read(file, wanted, header)

    report = _problems(file)
    jobs = {col: _job(table, col, kinds.get(col, TEXT), file, report) for col in wanted}
    jobs[tx.amount] = partial(
        typed_columns.numbers,
        table.column(tx.amount),
        column=tx.amount,
        report=report,
        decimal=file.decimal,
        role="the amount ([transactions] amount)",
        fix="fix the value",
    )
    columns = _run_all(jobs)
    for col, what in ((tx.time, "a time"), (tx.amount, "an amount")):
        # On the text, so that a bad cell is not also counted as a missing one.
        text = typed_columns.text_of(table.column(col))
        typed_columns.check_present(text, column=col, report=report, what=what)
    frame = _to_frame(columns, order=wanted)
    _check_filled(frame, spec.categorical + numeric + spec.boolean, report)
    report.raise_if_any(wanted)
    return frame


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
        raise DataError(f"Cannot write '{target}': {_first_line(exc)}") from exc


def _as_table(frame: pd.DataFrame | pa.Table, target: Path) -> pa.Table:
    try:
        if isinstance(frame, pa.Table):
            return frame
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise DataError(
            f"Cannot write '{target.name}': a column holds values that do not fit a table "
            f"({_first_line(exc)})"
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
    fmt = _format_of(target, what="Output file", verb="writes")
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


def data_fingerprint(path: str | Path) -> str:
    """The SHA-256 hex digest of the file's bytes, read in chunks (files may be large); of
    a folder of partitions (``--dask``), the digest of its files' names and digests."""
    p = Path(path)
    if p.is_dir():
        parts = sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith("."))
        lines = "".join(f"{f.name} {data_fingerprint(f)}\n" for f in parts)
        return hashlib.sha256(lines.encode()).hexdigest()
    _check_exists(p)
    try:
        with p.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError as exc:
        raise DataError(f"Data file '{p.name}' cannot be read: {exc.strerror or exc}") from exc


def boolean_columns(spec: Spec) -> frozenset[str]:
    """The columns ``load_customers`` reads as booleans (1.0, 0.0 or NaN): the spec's
    boolean features and the columns a rule compares with true or false."""
    return frozenset(
        c for c, k in _feature_kinds(spec, numeric=spec.numeric).items() if k == BOOLEAN
    )


# -- files, headers and reading ---------------------------------------------------------------


def _format_of(path: Path, *, what: str = "Data file", verb: str = "reads") -> str:
    name = path.name.lower()
    for fmt in sorted(SUPPORTED, key=len, reverse=True):  # ".csv.gz" before ".csv"
        if name.endswith(fmt):
            return fmt
    ext = f"extension '{path.suffix}'" if path.suffix else "no extension"
    raise DataError(f"{what} '{path.name}' has {ext}; tierline {verb} .csv, .csv.gz and .parquet")


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise DataError(f"Data file '{path}' does not exist")
    if path.is_dir():
        raise DataError(
            f"Data file '{path}' is a directory; give the path of a .csv, .csv.gz or .parquet file"
        )


def _open(path: str | Path, dialect: CsvDialect | None = None) -> _DataFile:
    p = Path(path)
    _check_exists(p)
    file = _DataFile(p, _format_of(p))
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise DataError(f"Data file '{p.name}' cannot be read: {exc.strerror or exc}") from exc
    if size == 0:
        raise DataError(f"Data file '{p.name}' is empty (0 bytes)")
    if file.fmt == ".parquet":
        return file
    with _reading(file), _csv_stream(file) as stream:
        sample = read_sample(stream)
    return replace(file, dialect=sniff(sample, name=file.name, forced=dialect or CsvDialect()))


@contextlib.contextmanager
def _reading(file: _DataFile) -> Iterator[None]:
    """Turn pyarrow's and the OS's exceptions into a DataError that names the file."""
    try:
        yield
    except (pa.ArrowException, OSError, ValueError, EOFError) as exc:
        detail = _first_line(exc)
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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 300 else line[:297] + "..."


def _csv_stream(file: _DataFile) -> pa.NativeFile:
    # Compression is chosen here rather than left to pyarrow's guess from the name, so that
    # upper-case names such as DATA.CSV.GZ work too.
    return pa.input_stream(str(file.path), compression="gzip" if file.fmt == ".csv.gz" else None)


def _csv_options(file: _DataFile) -> dict[str, Any]:
    assert file.dialect is not None
    return {
        # Quoted notes may span lines (costs ~20 %).
        "parse_options": pv.ParseOptions(delimiter=file.dialect.sep, newlines_in_values=True),
        # pyarrow skips a UTF-8 byte-order mark itself; other encodings are transcoded.
        "read_options": pv.ReadOptions(encoding=file.dialect.encoding),
    }


def _header(file: _DataFile) -> list[str]:
    with _reading(file):
        if file.fmt == ".parquet":
            return list(pq.read_schema(str(file.path)).names)
        with _csv_stream(file) as stream, pv.open_csv(stream, **_csv_options(file)) as reader:
            return list(reader.schema.names)


def _check_is_header(header: list[str], declared: tuple[str, ...], file: _DataFile) -> None:
    """A first line that names none of the declared columns is data or garbage, not a header."""
    if _names(header) & set(declared):
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


def _names(header: list[str]) -> set[str]:
    """The column names a header offers: as written, and without stray surrounding spaces."""
    return set(header) | {h.strip() for h in header}


def _header_name(col: str, header: list[str], file: _DataFile) -> str:
    """The header entry holding ``col``: the exact name, else the one that differs by spaces."""
    matches = [h for h in header if h == col] or [h for h in header if h.strip() == col]
    if len(matches) > 1:
        raise DataError(
            f"Column '{col}' appears {len(matches)} times in the header of {file.name}; "
            f"rename the copies"
        )
    return matches[0]


def _read(file: _DataFile, columns: list[str], header: list[str]) -> pa.Table:
    """The named columns, in that order and under those names, typed as text (CSV)."""
    actual = [_header_name(col, header, file) for col in columns]
    with _reading(file):
        if file.fmt == ".parquet":
            table = pq.read_table(str(file.path), columns=actual, use_threads=True)
        else:
            with _csv_stream(file) as stream:
                table = pv.read_csv(
                    stream, convert_options=_text_columns(actual), **_csv_options(file)
                )
    if table.num_rows == 0:
        has = "columns" if file.fmt == ".parquet" else "a header"
        raise DataError(f"Data file '{file.name}' has {has} but no rows")
    return table.select(actual).rename_columns(columns)


def _read_chunks(
    file: _DataFile, columns: list[str], header: list[str], *, chunk_rows: int
) -> Iterator[pa.Table]:
    """``_read`` in tables of ``chunk_rows`` rows (the last one shorter), read as asked for."""
    actual = [_header_name(col, header, file) for col in columns]
    pending: list[pa.RecordBatch] = []
    held = seen = 0
    for batch in _batches(file, actual, chunk_rows):
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


def _batches(file: _DataFile, actual: list[str], chunk_rows: int) -> Iterator[pa.RecordBatch]:
    """The file's record batches (the columns as ``_read`` types them), as pyarrow reads them."""
    if file.fmt == ".parquet":
        with _reading(file):
            parquet = pq.ParquetFile(str(file.path))
        with parquet:
            batches = parquet.iter_batches(batch_size=chunk_rows, columns=actual, use_threads=True)
            yield from _guarded(file, batches)
        return
    options = _csv_options(file)
    options["read_options"].block_size = _CSV_BLOCK_BYTES
    with _reading(file):
        stream = _csv_stream(file)
    with stream:
        with _reading(file):
            reader = pv.open_csv(stream, convert_options=_text_columns(actual), **options)
        yield from _guarded(file, reader)


def _guarded(file: _DataFile, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Each batch, a read error becoming the file's ``DataError`` (``_reading``)."""
    it = iter(batches)
    while True:
        with _reading(file):
            batch = next(it, None)
        if batch is None:
            return
        yield batch


def _text_columns(actual: list[str]) -> pv.ConvertOptions:
    # Every column as text, with no value turned into null: ids stay exactly as written
    # and engine.values alone decides what counts as missing.
    return pv.ConvertOptions(
        include_columns=actual,
        column_types=dict.fromkeys(actual, pa.string()),
        null_values=[],
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )


def _feature_kinds(spec: Spec, *, numeric: tuple[str, ...]) -> dict[str, str]:
    kinds = dict.fromkeys(spec.categorical, TEXT) | dict.fromkeys(numeric, NUMBER)
    kinds |= dict.fromkeys(spec.boolean, BOOLEAN)
    for rule in spec.rules:
        kinds.setdefault(rule.column, _rule_kind(rule))
    return kinds


def _rule_kind(rule: Rule) -> str:
    """A column read only for a hard rule is typed by what the rule does with it."""
    if rule.op in ("min", "max"):
        return NUMBER
    if rule.op == "equals" and isinstance(rule.value, bool):
        return BOOLEAN
    return TEXT


def _check_transaction_columns(
    header: list[str],
    *,
    spec: Spec,
    numeric: tuple[str, ...],
    file: _DataFile,
    model: str | None,
) -> None:
    assert spec.transactions is not None
    tx = spec.transactions
    roles_tx = (tx.customer, tx.time, tx.amount)
    roles = {
        tx.customer: "the customer ([transactions] customer)",
        tx.time: "the transaction time ([transactions] time)",
        tx.amount: "the amount ([transactions] amount)",
    }
    if spec.time:
        roles.setdefault(spec.time, "the time column ([data] time)")
    for key, cols in (
        ("categorical", spec.categorical),
        ("numeric", numeric),
        ("boolean", spec.boolean),
    ):
        roles |= {c: f"a {key} feature ([features] {key})" for c in cols if c not in roles}
    roles |= {r.column: "in a [[tiers.rules]] rule" for r in spec.rules if r.column not in roles}
    present = _names(header)
    signals = {*spec.categorical, *numeric, *spec.boolean, *spec.rule_columns} - set(roles_tx)
    for col, role in roles.items():
        if col not in present:
            raise missing_column(col, role, source=file.name, model=model, signal=col in signals)


# -- whole-column checks ----------------------------------------------------------------------


def _check_unique(ids: pd.Series, *, column: str, report: Problems) -> None:
    if ids.is_unique:
        return
    row = int(ids.duplicated(keep=False).to_numpy().argmax())
    first = ids.iloc[row]
    times = int((ids == first).sum())
    extra = int(ids.duplicated().sum())
    report.add(
        column,
        f"Column '{column}' holds duplicate ids in {report.name}: '{first}' appears {times} "
        f"times (first on {report.where(row)}); {extra} "
        f"{'rows repeat' if extra > 1 else 'row repeats'} an earlier id. "
        f"Ids must be unique; remove or merge the duplicates",
    )


# -- frames -------------------------------------------------------------------------------------


def _run_all(jobs: Mapping[str, Callable[[], pa.ChunkedArray]]) -> dict[str, pa.ChunkedArray]:
    """Type the columns in parallel (pyarrow compute releases the GIL) and return them in order.

    Results are collected in column order; problems are reported in that order too.
    """
    with ThreadPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 1)) as pool:
        futures = {col: pool.submit(job) for col, job in jobs.items()}
        return {col: future.result() for col, future in futures.items()}


def _to_frame(columns: Mapping[str, pa.ChunkedArray], *, order: list[str]) -> pd.DataFrame:
    table = pa.table({name: columns[name] for name in order})
    # split_blocks skips consolidating the float columns into one 2-D block (~3x faster).
    return table.to_pandas(split_blocks=True)


def _check_filled(frame: pd.DataFrame, features: tuple[str, ...], report: Problems) -> None:
    for col in features:
        if col in frame and not report.has(col) and frame[col].isna().all():
            report.add(
                col,
                f"Column '{col}' is empty in {report.name} (every value is missing); "
                f"fill it or remove it from the spec",
            )


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
