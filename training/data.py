"""Reading users' data files into typed frames (writing them: ``training.writing``).

A data file is CSV, gzip-compressed CSV or Parquet. A CSV file's delimiter, decimal mark
and encoding are sniffed (``training.dialect``) unless forced. Only the columns the spec
names are read (pyarrow, multithreaded, every CSV column as text), then each column is
typed by its declared role (``training.columns``). A file that cannot be read at all is a
``DataError`` at once (or a ``SpecError`` for a column the spec declares but the file
lacks); bad values are collected (``training.problems``) and raised as one ``DataError``
that lists them all, by column, with their lines.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd
import pyarrow as pa

from tierline.engine.errors import DataError, SpecError
from tierline.engine.spec import TRANSACTION_FEATURES, Rule, Spec, missing_column
from tierline.training import columns as typed_columns
from tierline.training.columns import BOOLEAN, ID, NUMBER, TEXT, TIME
from tierline.training.dialect import (
    CsvDialect,
)
from tierline.training.files import (
    DataFile,
    check_exists,
    check_is_header,
    header_names,
    header_of,
    open_data,
    read_chunks,
    read_columns,
)
from tierline.training.formats import SUPPORTED
from tierline.training.problems import Problems

__all__ = [
    "SUPPORTED",
    "CsvDialect",
    "boolean_columns",
    "check_unique_ids",
    "data_fingerprint",
    "load_customers",
    "load_transactions",
    "read_customer_chunks",
]


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
    table = read_columns(plan.file, plan.wanted, plan.header)
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
    for table in read_chunks(plan.file, plan.wanted, plan.header, chunk_rows=chunk_rows):
        yield _typed_customers(table, plan, spec, first_row=first_row, whole=False)
        first_row += table.num_rows


def check_unique_ids(
    path: str | Path, spec: Spec, *, dialect: CsvDialect | None = None, model: str | None = None
) -> None:
    """Raise the ``DataError`` ``load_customers`` gives for repeated ids, reading only the
    id column; nothing if the ids are unique."""
    plan = _customer_plan(path, spec, with_target=False, dialect=dialect, model=model)
    table = read_columns(plan.file, [spec.id], plan.header)
    report = _problems(plan.file)
    ids = _to_frame(
        _run_all({spec.id: _job(table, spec.id, ID, plan.file, report)}), order=[spec.id]
    )
    _check_unique(ids[spec.id], column=spec.id, report=report)
    report.raise_if_any([spec.id])


@dataclass(frozen=True)
class _CustomerPlan:
    file: DataFile
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
    file = open_data(path, dialect)
    header = header_of(file)
    names = header_names(header)
    check_is_header(header, spec.input_columns(with_target=with_target), file)
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


def _problems(file: DataFile) -> Problems:
    return Problems(file.name, lines=file.fmt != ".parquet")


def _job(
    table: pa.Table, col: str, kind: str, file: DataFile, report: Problems
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
    file = open_data(path, dialect)
    header = header_of(file)
    numeric = tuple(c for c in spec.numeric if c not in TRANSACTION_FEATURES)
    kinds = {tx.customer: ID, tx.time: TIME, tx.amount: NUMBER}
    kinds |= {c: k for c, k in _feature_kinds(spec, numeric=numeric).items() if c not in kinds}
    if spec.time and spec.time not in kinds:
        kinds[spec.time] = TIME
    check_is_header(header, tuple(kinds), file)
    _check_transaction_columns(header, spec=spec, numeric=numeric, file=file, model=model)
    wanted = [*kinds, *(c for c in spec.protected if c in header_names(header) and c not in kinds)]
    table = read_columns(file, wanted, header)

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


def data_fingerprint(path: str | Path) -> str:
    """The SHA-256 hex digest of the file's bytes, read in chunks (files may be large); of
    a folder of partitions (``--dask``), the digest of its files' names and digests."""
    p = Path(path)
    if p.is_dir():
        parts = sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith("."))
        lines = "".join(f"{f.name} {data_fingerprint(f)}\n" for f in parts)
        return hashlib.sha256(lines.encode()).hexdigest()
    check_exists(p)
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
    file: DataFile,
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
    present = header_names(header)
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
