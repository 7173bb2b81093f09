"""Reading users' data files into typed frames, and writing tables atomically.

A data file is CSV, gzip-compressed CSV or Parquet. Only the columns the spec names are
read (pyarrow, multithreaded, every CSV column as text), then each column is typed by its
declared role with vectorised pyarrow compute. Booleans, missing markers and category text
follow ``engine.values``, so a value means the same here as on the single-record path.
Every problem with a file surfaces as a ``DataError`` (or ``SpecError`` for a column the
spec declares but the file lacks) that names the file, the column and a sample value.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
import pyarrow.parquet as pq

from tierline.engine.errors import DataError, SpecError
from tierline.engine.spec import TRANSACTION_FEATURES, Rule, Spec
from tierline.engine.values import FALSE_TOKENS, MISSING_TOKENS, TRUE_TOKENS

__all__ = [
    "SUPPORTED",
    "boolean_columns",
    "check_output_path",
    "data_fingerprint",
    "load_customers",
    "load_transactions",
    "write_table",
]

SUPPORTED = (".csv", ".csv.gz", ".parquet")

# How a column is typed: the id (exact text), text (stripped, missing markers -> null),
# number (float64), boolean (float64 1/0/NaN) and time (naive timestamp[us]).
ID, TEXT, NUMBER, BOOLEAN, TIME = "id", "text", "number", "boolean", "time"

_MISSING = pa.array(sorted(MISSING_TOKENS), pa.string())
_TRUE = pa.array(sorted(TRUE_TOKENS), pa.string())
_FALSE = pa.array(sorted(FALSE_TOKENS), pa.string())
_BOOL_SPELLINGS = (
    f"{'/'.join(sorted(TRUE_TOKENS))} for yes, {'/'.join(sorted(FALSE_TOKENS))} for no "
    f"(any case), or a blank cell when unknown"
)
_TIME_SPELLINGS = "2026-03-01, 2026-03-01T12:30:00, 2026-03-01 12:30 or 20260301 (no time zone)"
# Microseconds: pandas' default unit for parsed text, and it reaches year 9999 (ns stops at 2262).
_TIMESTAMP = pa.timestamp("us")


@dataclass(frozen=True)
class _DataFile:
    path: Path
    fmt: str  # one of SUPPORTED

    @property
    def name(self) -> str:
        return self.path.name


# -- public API ----------------------------------------------------------------------------


def load_customers(path: str | Path, spec: Spec, *, with_target: bool) -> pd.DataFrame:
    """Read a customer table (one row per customer), typed by the spec, rows in file order.

    Raises ``SpecError`` when a declared column is missing from the file and ``DataError``
    when the file is unreadable or a value does not fit its declared type.
    """
    frame = _load_customers(path, spec, with_target=with_target)
    _release_arrow_memory()
    return frame


def _release_arrow_memory() -> None:
    # pyarrow's allocator keeps the freed read buffers (about twice the frame's size on
    # 1M rows); handing them back keeps training's peak memory near the frame itself.
    pa.default_memory_pool().release_unused()


def _load_customers(path: str | Path, spec: Spec, *, with_target: bool) -> pd.DataFrame:
    file = _open(path)
    header = _header(file)
    names = _names(header)
    _check_is_header(header, spec.input_columns(with_target=with_target), file)
    spec.check_columns(names, source=file.name, with_target=with_target)
    kinds = {spec.id: ID} | ({spec.time: TIME} if spec.time else {})
    for col, kind in _feature_kinds(spec, numeric=spec.numeric).items():
        kinds.setdefault(col, kind)  # a rule on the id or time column keeps that role's type
    target = spec.target_column if with_target and spec.transactions is None else None
    wanted = [*kinds, *([target] if target else [])]
    if with_target and spec.treatment is not None:
        wanted.append(spec.treatment.column)  # read as text: arms are names
    wanted += [c for c in spec.protected if c in names and c not in wanted]
    table = _read(file, wanted, header)

    jobs = {
        col: partial(_typed, table.column(col), kind=kinds.get(col, TEXT), column=col, file=file)
        for col in wanted
        if col != target
    }
    if target:
        jobs[target] = partial(_target, table.column(target), spec=spec, file=file)
    frame = _to_frame(_run_all(jobs), order=wanted)
    _check_unique(frame[spec.id], column=spec.id, file=file)
    if with_target:
        # Only when training: a batch being scored may lack a value everywhere (one new
        # customer with no email_open_rate) and must score like the single-record path.
        _check_filled(frame, spec.categorical + spec.numeric + spec.boolean, file)
    return frame


def load_transactions(path: str | Path, spec: Spec) -> pd.DataFrame:
    """Read a transaction log (one row per purchase), typed by the spec, rows in file order.

    The customer column repeats; per-customer feature columns are typed as in a customer
    table. Raises ``SpecError`` for a missing column and ``DataError`` for bad values.
    """
    frame = _load_transactions(path, spec)
    _release_arrow_memory()
    return frame


def _load_transactions(path: str | Path, spec: Spec) -> pd.DataFrame:
    tx = spec.transactions
    if tx is None:
        raise SpecError(
            f"The spec has no [transactions] section, so '{Path(path).name}' cannot be read as "
            f"a transaction log; add [transactions] customer, time and amount"
        )
    file = _open(path)
    header = _header(file)
    numeric = tuple(c for c in spec.numeric if c not in TRANSACTION_FEATURES)
    kinds = {tx.customer: ID, tx.time: TIME, tx.amount: NUMBER}
    kinds |= {c: k for c, k in _feature_kinds(spec, numeric=numeric).items() if c not in kinds}
    if spec.time and spec.time not in kinds:
        kinds[spec.time] = TIME
    _check_is_header(header, tuple(kinds), file)
    _check_transaction_columns(header, spec=spec, numeric=numeric, file=file)
    wanted = [*kinds, *(c for c in spec.protected if c in _names(header) and c not in kinds)]
    table = _read(file, wanted, header)

    jobs = {
        col: partial(_typed, table.column(col), kind=kinds.get(col, TEXT), column=col, file=file)
        for col in wanted
    }
    role, fix = "the amount ([transactions] amount)", "fix the value"
    jobs[tx.amount] = partial(
        _numbers, table.column(tx.amount), column=tx.amount, file=file, role=role, fix=fix
    )
    columns = _run_all(jobs)
    _check_present(columns[tx.time], column=tx.time, file=file, what="a time")
    _check_present(columns[tx.amount], column=tx.amount, file=file, what="an amount")
    frame = _to_frame(columns, order=wanted)
    _check_filled(frame, spec.categorical + numeric + spec.boolean, file)
    return frame


def write_table(frame: pd.DataFrame | pa.Table, path: str | Path) -> None:
    """Write ``frame`` as CSV, gzip CSV or Parquet (by extension), atomically.

    The data goes to a temporary file beside ``path`` that is renamed into place, so a
    failure never leaves a half-written file nor destroys an existing one.
    """
    target = Path(path)
    fmt = check_output_path(target)
    try:
        table = (
            frame
            if isinstance(frame, pa.Table)
            else pa.Table.from_pandas(frame, preserve_index=False)
        )
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise DataError(
            f"Cannot write '{target.name}': a column holds values that do not fit a table "
            f"({_first_line(exc)})"
        ) from exc
    if fmt != ".parquet":
        table = _nan_as_null(table)  # so missing numbers are empty cells, not "nan"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
    except OSError as exc:
        raise DataError(f"Cannot write '{target}': {exc.strerror or exc}") from exc
    try:
        _WRITERS[fmt](table, tmp)
        _fsync(tmp)
        # mkstemp makes the file 0600; give the output the mode a plain open() would have had.
        os.chmod(tmp, target.stat().st_mode & 0o777 if target.exists() else 0o644)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, pa.ArrowException | OSError | ValueError | TypeError):
            raise DataError(f"Cannot write '{target}': {_first_line(exc)}") from exc
        raise


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
    """The SHA-256 hex digest of the file's bytes, read in chunks (files may be large)."""
    p = Path(path)
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


def _open(path: str | Path) -> _DataFile:
    p = Path(path)
    _check_exists(p)
    file = _DataFile(p, _format_of(p))
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise DataError(f"Data file '{p.name}' cannot be read: {exc.strerror or exc}") from exc
    if size == 0:
        raise DataError(f"Data file '{p.name}' is empty (0 bytes)")
    return file


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
        hint = "; save it as UTF-8 text" if "utf8" in detail.lower().replace("-", "") else ""
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


_PARSE = pv.ParseOptions(newlines_in_values=True)  # quoted notes may span lines; costs ~20 %


def _header(file: _DataFile) -> list[str]:
    with _reading(file):
        if file.fmt == ".parquet":
            return list(pq.read_schema(str(file.path)).names)
        with _csv_stream(file) as stream, pv.open_csv(stream, parse_options=_PARSE) as reader:
            return list(reader.schema.names)


def _check_is_header(header: list[str], declared: tuple[str, ...], file: _DataFile) -> None:
    """A first line that names none of the declared columns is data or garbage, not a header."""
    if _names(header) & set(declared):
        return
    seen = ", ".join(repr(h) for h in header[:4]) + (", ..." if len(header) > 4 else "")
    expected = ", ".join(repr(c) for c in declared[:4])
    hint = "add a header row"
    if len(header) == 1 and file.fmt != ".parquet":
        sep = next((s for s in (";", "\t", "|") if s in header[0]), None)
        if sep:
            hint = f"it looks separated by {sep!r}; save it with commas between the columns"
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
            # Every column as text, with no value turned into null: ids stay exactly as
            # written and engine.values alone decides what counts as missing.
            convert = pv.ConvertOptions(
                include_columns=actual,
                column_types=dict.fromkeys(actual, pa.string()),
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            )
            with _csv_stream(file) as stream:
                table = pv.read_csv(stream, parse_options=_PARSE, convert_options=convert)
    if table.num_rows == 0:
        has = "columns" if file.fmt == ".parquet" else "a header"
        raise DataError(f"Data file '{file.name}' has {has} but no rows")
    return table.select(actual).rename_columns(columns)


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
    header: list[str], *, spec: Spec, numeric: tuple[str, ...], file: _DataFile
) -> None:
    assert spec.transactions is not None
    tx = spec.transactions
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
    for col, role in roles.items():
        if col not in present:
            raise SpecError(
                f"Column '{col}' is declared {role} in the spec but missing from {file.name}; "
                f"add it to the data or remove it from the spec"
            )


# -- typing one column ------------------------------------------------------------------------


def _typed(col: pa.ChunkedArray, *, kind: str, column: str, file: _DataFile) -> pa.ChunkedArray:
    if kind == ID:
        return _ids(col, column=column, file=file)
    if kind == NUMBER:
        return _numbers(col, column=column, file=file)
    if kind == BOOLEAN:
        return _booleans(col, column=column, file=file)
    if kind == TIME:
        return _times(col, column=column, file=file)
    return _text(col)


def _as_text(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Any column as strings; Parquet's typed values are written as engine.values would."""
    t = col.type
    if pa.types.is_dictionary(t):
        return _as_text(col.cast(t.value_type))
    if pa.types.is_string(t):
        return col
    if pa.types.is_large_string(t) or pa.types.is_string_view(t) or pa.types.is_null(t):
        return col.cast(pa.string())
    if pa.types.is_boolean(t):
        return pc.if_else(col, "true", "false")
    if pa.types.is_integer(t):
        return col.cast(pa.string())
    if pa.types.is_floating(t):
        # Whole numbers read as integers ("12", not "12.0"), as in engine.values.category_text.
        col = col.cast(pa.float64())
        whole = pc.and_(pc.equal(col, pc.floor(col)), pc.less(pc.abs(col), 2.0**53))
        as_int = pc.if_else(whole, col, 0.0).cast(pa.int64()).cast(pa.string())
        return pc.if_else(pc.fill_null(whole, False), as_int, col.cast(pa.string()))
    try:
        return col.cast(pa.string())
    except pa.ArrowException as exc:
        raise DataError(f"tierline cannot read values of type {t}: {_first_line(exc)}") from exc


def _lower(text: pa.ChunkedArray) -> pa.ChunkedArray:
    # ascii_lower is ~20x faster than utf8_lower and equivalent for the engine.values tokens,
    # which are ASCII with no letter that a non-ASCII character lower-cases to.
    return pc.ascii_lower(text)


def _missing(text: pa.ChunkedArray) -> pa.ChunkedArray:
    """True where a (stripped) text value is null or a missing marker of engine.values."""
    return pc.or_kleene(pc.is_null(text), pc.is_in(_lower(text), value_set=_MISSING))


def _text(col: pa.ChunkedArray) -> pa.ChunkedArray:
    stripped = pc.utf8_trim_whitespace(_as_text(col))
    return pc.if_else(_missing(stripped), pa.scalar(None, pa.string()), stripped)


def _first(mask: pa.ChunkedArray) -> int:
    return int(pc.index(pc.fill_null(mask, False), True).as_py())


def _first_failure(
    values: pa.ChunkedArray, to: pa.DataType | Callable[[pa.ChunkedArray], object]
) -> int:
    """Index of the first value that does not cast (to a type, or by a function raising
    ``ArrowInvalid``), found by halving (error path only)."""
    cast = to if callable(to) else (lambda part: part.cast(to))
    lo, hi = 0, len(values)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            cast(values.slice(lo, mid - lo))
            lo = mid
        except pa.ArrowInvalid:
            hi = mid
    return lo


def _ids(col: pa.ChunkedArray, *, column: str, file: _DataFile) -> pa.ChunkedArray:
    ids = _as_text(col)
    missing = _missing(pc.utf8_trim_whitespace(ids))
    count = int(pc.sum(missing).as_py() or 0)
    if count:
        raise DataError(
            f"Column '{column}' has no id in row {_first(missing) + 1} of {file.name} "
            f"({count} row{'s' if count > 1 else ''} without one); every row needs an id"
        )
    return ids


def _check_unique(ids: pd.Series, *, column: str, file: _DataFile) -> None:
    if ids.is_unique:
        return
    row = int(ids.duplicated(keep=False).to_numpy().argmax())
    first = ids.iloc[row]
    times = int((ids == first).sum())
    extra = int(ids.duplicated().sum())
    raise DataError(
        f"Column '{column}' holds duplicate ids in {file.name}: '{first}' appears {times} times "
        f"(first in row {row + 1}); {extra} {'rows repeat' if extra > 1 else 'row repeats'} "
        f"an earlier id. "
        f"Ids must be unique; remove or merge the duplicates"
    )


def _numbers(
    col: pa.ChunkedArray,
    *,
    column: str,
    file: _DataFile,
    role: str = "declared numeric",
    fix: str = "fix the value or declare the column categorical",
) -> pa.ChunkedArray:
    t = col.type
    if (
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_decimal(t)
        or pa.types.is_boolean(t)
        or pa.types.is_null(t)
    ):
        return col.cast(pa.float64())
    text = _text(col)
    try:
        return text.cast(pa.float64())
    except pa.ArrowInvalid:
        row = _first_failure(text, pa.float64())
    raise DataError(
        f"Column '{column}' is {role} but holds '{text[row].as_py()}' (row {row + 1}) in "
        f"{file.name}; {fix}"
    )


def _booleans(col: pa.ChunkedArray, *, column: str, file: _DataFile) -> pa.ChunkedArray:
    t = col.type
    if pa.types.is_boolean(t) or pa.types.is_null(t):
        return col.cast(pa.float64())
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        # Numbers are booleans only as 0 and 1, as in engine.values.parse_bool.
        values = col.cast(pa.float64())
        bad = pc.invert(pc.is_in(pc.fill_null(values, 0.0), value_set=pa.array([0.0, 1.0])))
        bad = pc.and_(bad, pc.invert(pc.is_nan(values)))
        if not pc.any(bad).as_py():
            return values
        text = _as_text(col)
    else:
        text = _text(col)
        lowered = _lower(text)
        is_true = pc.is_in(lowered, value_set=_TRUE)
        is_false = pc.is_in(lowered, value_set=_FALSE)
        bad = pc.and_(pc.is_valid(text), pc.invert(pc.or_(is_true, is_false)))
        if not pc.any(bad).as_py():
            return pc.if_else(
                is_true, 1.0, pc.if_else(is_false, 0.0, pa.scalar(None, pa.float64()))
            )
    row = _first(bad)
    raise DataError(
        f"Column '{column}' is declared boolean but holds '{text[row].as_py()}' (row {row + 1}) "
        f"in {file.name}; write {_BOOL_SPELLINGS}"
    )


def _times(col: pa.ChunkedArray, *, column: str, file: _DataFile) -> pa.ChunkedArray:
    t = col.type
    if pa.types.is_timestamp(t):
        # An aware time becomes the wall-clock time of its own zone, like a naive export.
        naive = pc.local_timestamp(col) if t.tz else col
        return naive.cast(_TIMESTAMP, safe=False)
    if pa.types.is_date(t):
        return col.cast(_TIMESTAMP)
    text = _text(col)
    # YYYYMMDD is rewritten as YYYY-MM-DD so that one strict ISO parser checks every value
    # (pyarrow's strptime would roll 20260230 over into March).
    compact = pc.fill_null(pc.match_substring_regex(text, r"^\d{8}$"), False)
    dashed = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(text, 0, 4),
        pc.utf8_slice_codeunits(text, 4, 6),
        pc.utf8_slice_codeunits(text, 6, 8),
        "-",
    )
    iso = pc.if_else(compact, dashed, text)
    try:
        return _parse_times(iso)
    except pa.ArrowInvalid:
        row = _first_failure(iso, _parse_times)
    raise DataError(
        f"Column '{column}' is declared a date/time but holds '{text[row].as_py()}' "
        f"(row {row + 1}) in {file.name}; write dates as {_TIME_SPELLINGS}"
    )


def _parse_times(text: pa.ChunkedArray) -> pa.ChunkedArray:
    try:
        return text.cast(_TIMESTAMP)
    except pa.ArrowInvalid:
        # Nanosecond text (pandas writes it) parses only at nanosecond precision.
        return text.cast(pa.timestamp("ns")).cast(_TIMESTAMP, safe=False)


def _check_present(values: pa.ChunkedArray, *, column: str, file: _DataFile, what: str) -> None:
    missing = pc.is_null(values, nan_is_null=True)
    count = int(pc.sum(missing).as_py() or 0)
    if count:
        raise DataError(
            f"Column '{column}' has no value in {count} row{'s' if count > 1 else ''} of "
            f"{file.name} (first: row {_first(missing) + 1}); every row needs {what}"
        )


# -- the target ---------------------------------------------------------------------------------


def _target(col: pa.ChunkedArray, *, spec: Spec, file: _DataFile) -> pa.ChunkedArray:
    column = str(spec.target_column)
    if spec.target_kind == "class":
        labels = _text(col)
        _check_present(
            labels, column=column, file=file, what=f"a tier label ({', '.join(spec.tiers)})"
        )
        unknown = pc.invert(pc.is_in(labels, value_set=pa.array(spec.tiers, pa.string())))
        if pc.any(unknown).as_py():
            row = _first(unknown)
            label = labels[row].as_py()
            case = (
                " (tier names are case-sensitive)"
                if label.lower() in {t.lower() for t in spec.tiers}
                else ""
            )
            raise DataError(
                f"Column '{column}' holds unknown tier label '{label}' (row {row + 1}) in "
                f"{file.name}; known tiers: {', '.join(spec.tiers)}{case}"
            )
        _check_two_classes(labels, column=column, file=file)
        return labels
    if spec.target_kind == "binary":
        return _binary_target(col, spec=spec, column=column, file=file)
    role, fix = "the target ([target] column, an amount)", "fix the value"
    amounts = _numbers(col, column=column, file=file, role=role, fix=fix)
    _check_present(amounts, column=column, file=file, what="an amount")
    bad = pc.or_(pc.less(amounts, 0.0), pc.is_inf(amounts))
    if pc.any(bad).as_py():
        row = _first(bad)
        raise DataError(
            f"Column '{column}' holds {amounts[row].as_py()} (row {row + 1}) in {file.name}; "
            f"amounts must be finite and >= 0 (LightGBM's tweedie objective needs them so)"
        )
    return amounts


def _binary_target(
    col: pa.ChunkedArray, *, spec: Spec, column: str, file: _DataFile
) -> pa.ChunkedArray:
    positive = spec.positive
    if isinstance(positive, bool):
        values = _booleans(col, column=column, file=file)
        wanted: Any = 1.0 if positive else 0.0
    elif isinstance(positive, int | float):
        role = f"the target (compared as a number with [target] positive = {positive})"
        values = _numbers(col, column=column, file=file, role=role, fix="fix the value")
        wanted = float(positive)
    else:
        values, wanted = _text(col), str(positive)
        _check_case(values, positive=wanted, column=column, file=file)
    _check_present(values, column=column, file=file, what="a label")
    is_positive = pc.equal(values, pa.scalar(wanted, values.type)).cast(pa.float64())
    _check_two_classes(is_positive, column=column, file=file, positive=positive)
    return is_positive


def _check_case(values: pa.ChunkedArray, *, positive: str, column: str, file: _DataFile) -> None:
    # 'Yes' is not 'yes', but a label differing from [target] positive only in case is far
    # more likely a typo than a negative, and would silently become one.
    near = pc.and_(
        pc.equal(pc.utf8_lower(values), positive.lower()), pc.not_equal(values, positive)
    )
    if pc.any(near).as_py():
        row = _first(near)
        raise DataError(
            f"Column '{column}' holds '{values[row].as_py()}' (row {row + 1}) in {file.name}, "
            f"which differs from [target] positive '{positive}' only in case; make them match"
        )


def _check_two_classes(
    labels: pa.ChunkedArray, *, column: str, file: _DataFile, positive: Any = None
) -> None:
    distinct = pc.unique(labels)
    if len(distinct) >= 2:
        return
    only = distinct[0].as_py()
    if positive is None:
        single = f"'{only}'"
    else:
        shown = str(positive).lower() if isinstance(positive, bool) else repr(positive)
        single = f"(every row {'is' if only == 1.0 else 'is not'} positive = {shown})"
    raise DataError(
        f"Column '{column}' in {file.name} has a single class {single}; a model needs at least two"
    )


# -- frames -------------------------------------------------------------------------------------


def _run_all(jobs: Mapping[str, Callable[[], pa.ChunkedArray]]) -> dict[str, pa.ChunkedArray]:
    """Type the columns in parallel (pyarrow compute releases the GIL) and return them in order.

    Results are collected in column order, so with several bad columns the error is always
    the one about the first of them.
    """
    with ThreadPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 1)) as pool:
        futures = {col: pool.submit(job) for col, job in jobs.items()}
        return {col: future.result() for col, future in futures.items()}


def _to_frame(columns: Mapping[str, pa.ChunkedArray], *, order: list[str]) -> pd.DataFrame:
    table = pa.table({name: columns[name] for name in order})
    # split_blocks skips consolidating the float columns into one 2-D block (~3x faster).
    return table.to_pandas(split_blocks=True)


def _check_filled(frame: pd.DataFrame, features: tuple[str, ...], file: _DataFile) -> None:
    for col in features:
        if col in frame and frame[col].isna().all():
            raise DataError(
                f"Column '{col}' is empty in {file.name} (every value is missing); "
                f"fill it or remove it from the spec"
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


def _write_csv(table: pa.Table, path: str) -> None:
    pv.write_csv(table, path)


def _write_csv_gz(table: pa.Table, path: str) -> None:
    with pa.CompressedOutputStream(path, "gzip") as out:
        pv.write_csv(table, out)


def _write_parquet(table: pa.Table, path: str) -> None:
    pq.write_table(table, path)


# The one seam where bytes reach the disk (tests replace a writer to simulate a failure).
_WRITERS: dict[str, Callable[[pa.Table, str], None]] = {
    ".csv": _write_csv,
    ".csv.gz": _write_csv_gz,
    ".parquet": _write_parquet,
}


def _fsync(path: str) -> None:
    # Flush to disk before the rename, so a crash cannot leave a renamed but empty file.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
