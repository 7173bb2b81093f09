"""Typing one column of a data file by its declared role, noting every cell that does not fit.

Each function takes a column as read (CSV text, or Parquet's own types) and returns it
typed with vectorised pyarrow compute; a cell that does not fit becomes null and is noted
in the file's ``Problems``, so that one run names every bad cell. Booleans, missing
markers and category text follow ``engine.values``, so a value means the same here as on
the single-record path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tierline.engine.errors import DataError
from tierline.engine.spec import Spec
from tierline.engine.values import FALSE_TOKENS, MISSING_TOKENS, TRUE_TOKENS
from tierline.training.amounts import amount_advice, parse_numbers
from tierline.training.problems import Problems

__all__ = ["BOOLEAN", "ID", "NUMBER", "TEXT", "TIME", "check_present", "target", "typed"]

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
_NULL_FLOAT = pa.scalar(None, pa.float64())
# Bad times named one by one (by halving) beyond those of the wrong shape; enough to fix.
_MAX_HALVINGS = 20


def typed(
    col: pa.ChunkedArray, *, kind: str, column: str, report: Problems, decimal: str = "."
) -> pa.ChunkedArray:
    if kind == ID:
        return _ids(col, column=column, report=report)
    if kind == NUMBER:
        return numbers(col, column=column, report=report, decimal=decimal)
    if kind == BOOLEAN:
        return _booleans(col, column=column, report=report)
    if kind == TIME:
        return _times(col, column=column, report=report)
    return text_of(col)


def as_text(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Any column as strings; Parquet's typed values are written as engine.values would."""
    t = col.type
    if pa.types.is_dictionary(t):
        return as_text(col.cast(t.value_type))
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
        raise DataError(f"tierline cannot read values of type {t}: {exc}") from exc


def _lower(text: pa.ChunkedArray) -> pa.ChunkedArray:
    # ascii_lower is far faster than utf8_lower and equivalent for the engine.values tokens,
    # which are ASCII with no letter that a non-ASCII character lower-cases to.
    return pc.ascii_lower(text)


def _missing(text: pa.ChunkedArray) -> pa.ChunkedArray:
    """True where a (stripped) text value is null or a missing marker of engine.values."""
    return pc.or_kleene(pc.is_null(text), pc.is_in(_lower(text), value_set=_MISSING))


def text_of(col: pa.ChunkedArray) -> pa.ChunkedArray:
    stripped = pc.utf8_trim_whitespace(as_text(col))
    return pc.if_else(_missing(stripped), pa.scalar(None, pa.string()), stripped)


def _any(mask: pa.ChunkedArray) -> bool:
    return bool(pc.any(pc.fill_null(mask, False)).as_py())


def _first_failure(values: pa.ChunkedArray, to: Callable[[pa.ChunkedArray], object]) -> int:
    """Index of the first value that does not cast (``to`` raising ``ArrowInvalid``), found
    by halving (error path only)."""
    lo, hi = 0, len(values)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            to(values.slice(lo, mid - lo))
            lo = mid
        except pa.ArrowInvalid:
            hi = mid
    return lo


def _ids(col: pa.ChunkedArray, *, column: str, report: Problems) -> pa.ChunkedArray:
    ids = as_text(col)
    missing = _missing(pc.utf8_trim_whitespace(ids))
    count = int(pc.sum(missing).as_py() or 0)
    if count:
        report.add(
            column,
            f"Column '{column}' has no id in {report.rows(missing)} of {report.name} "
            f"({count} row{'s' if count > 1 else ''} without one); every row needs an id",
        )
    return ids


def numbers(
    col: pa.ChunkedArray,
    *,
    column: str,
    report: Problems,
    decimal: str = ".",
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
    text = text_of(col)
    parsed = parse_numbers(text, decimal=decimal)
    if parsed.bad is None or parsed.amounts is None:
        return parsed.values
    # Money written another way is never "categorical": say how to write the amount.
    amounts = parsed.amounts
    others = pc.and_(parsed.bad, pc.invert(amounts))
    for mask, advice in ((others, fix), (amounts, amount_advice(decimal))):
        if _any(mask):
            report.add(
                column,
                f"Column '{column}' is {role} but holds {report.cells(text, mask)} in "
                f"{report.name}; {advice}",
            )
    return parsed.values


def _booleans(col: pa.ChunkedArray, *, column: str, report: Problems) -> pa.ChunkedArray:
    t = col.type
    if pa.types.is_boolean(t) or pa.types.is_null(t):
        return col.cast(pa.float64())
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        # Numbers are booleans only as 0 and 1, as in engine.values.parse_bool.
        values = col.cast(pa.float64())
        bad = pc.invert(pc.is_in(pc.fill_null(values, 0.0), value_set=pa.array([0.0, 1.0])))
        bad = pc.and_(bad, pc.invert(pc.is_nan(values)))
        if not _any(bad):
            return values
        text = as_text(col)
        result = pc.if_else(bad, _NULL_FLOAT, values)
    else:
        text = text_of(col)
        lowered = _lower(text)
        is_true = pc.is_in(lowered, value_set=_TRUE)
        is_false = pc.is_in(lowered, value_set=_FALSE)
        bad = pc.and_(pc.is_valid(text), pc.invert(pc.or_(is_true, is_false)))
        result = pc.if_else(is_true, 1.0, pc.if_else(is_false, 0.0, _NULL_FLOAT))
        if not _any(bad):
            return result
    report.add(
        column,
        f"Column '{column}' is declared boolean but holds {report.cells(text, bad)} "
        f"in {report.name}; write {_BOOL_SPELLINGS}",
    )
    return result


def _times(col: pa.ChunkedArray, *, column: str, report: Problems) -> pa.ChunkedArray:
    t = col.type
    if pa.types.is_timestamp(t):
        # An aware time becomes the wall-clock time of its own zone, like a naive export.
        naive = pc.local_timestamp(col) if t.tz else col
        return naive.cast(_TIMESTAMP, safe=False)
    if pa.types.is_date(t):
        return col.cast(_TIMESTAMP)
    text = text_of(col)
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
        pass
    # Error path: a value not starting YYYY-MM-DD is bad; the rest are found by halving.
    bad = pc.and_(
        pc.is_valid(iso), pc.invert(pc.fill_null(pc.match_substring_regex(iso, r"^\d{4}-"), False))
    )
    null = pa.scalar(None, pa.string())
    for _ in range(_MAX_HALVINGS + 1):
        candidates = pc.if_else(bad, null, iso)
        try:
            parsed = _parse_times(candidates)
            break
        except pa.ArrowInvalid:
            row = _first_failure(candidates, _parse_times)
            bad = pc.or_(bad, pc.equal(pa.array(np.arange(len(iso))), row))
    else:
        parsed = pa.chunked_array([pa.nulls(len(iso), _TIMESTAMP)])
    report.add(
        column,
        f"Column '{column}' is declared a date/time but holds {report.cells(text, bad)} "
        f"in {report.name}; write dates as {_TIME_SPELLINGS}",
    )
    return parsed


def _parse_times(text: pa.ChunkedArray) -> pa.ChunkedArray:
    try:
        return text.cast(_TIMESTAMP)
    except pa.ArrowInvalid:
        # Nanosecond text (pandas writes it) parses only at nanosecond precision.
        return text.cast(pa.timestamp("ns")).cast(_TIMESTAMP, safe=False)


def check_present(values: pa.ChunkedArray, *, column: str, report: Problems, what: str) -> None:
    missing = pc.is_null(values, nan_is_null=True)
    count = int(pc.sum(missing).as_py() or 0)
    if count:
        report.add(
            column,
            f"Column '{column}' has no value in {count} row{'s' if count > 1 else ''} of "
            f"{report.name} ({report.rows(missing)}); every row needs {what}",
        )


# -- the target ---------------------------------------------------------------------------------


def target(
    col: pa.ChunkedArray, *, spec: Spec, report: Problems, decimal: str = "."
) -> pa.ChunkedArray:
    column = str(spec.target_column)
    if spec.target_kind == "class":
        labels = text_of(col)
        check_present(
            labels, column=column, report=report, what=f"a tier label ({', '.join(spec.tiers)})"
        )
        known = pc.is_in(labels, value_set=pa.array(spec.tiers, pa.string()))
        unknown = pc.and_(pc.is_valid(labels), pc.invert(known))
        if _any(unknown):
            lowered = {t.lower() for t in spec.tiers}
            near = pc.is_in(pc.utf8_lower(labels), value_set=pa.array(sorted(lowered)))
            case = " (tier names are case-sensitive)" if _any(pc.and_(unknown, near)) else ""
            report.add(
                column,
                f"Column '{column}' holds unknown tier label {report.cells(labels, unknown)} in "
                f"{report.name}; known tiers: {', '.join(spec.tiers)}{case}",
            )
        _check_two_classes(labels, column=column, report=report)
        return labels
    if spec.target_kind == "binary":
        return _binary_target(col, spec=spec, column=column, report=report, decimal=decimal)
    role, fix = "the target ([target] column, an amount)", "fix the value"
    amounts = numbers(col, column=column, report=report, decimal=decimal, role=role, fix=fix)
    # On the text, so that a bad cell is not also counted as a missing one.
    check_present(text_of(col), column=column, report=report, what="an amount")
    bad = pc.or_(pc.less(amounts, 0.0), pc.is_inf(amounts))
    if _any(bad):
        report.add(
            column,
            f"Column '{column}' holds {report.cells(amounts, bad, quoted=False)} in "
            f"{report.name}; amounts must be finite and >= 0 (LightGBM's tweedie objective needs them so)",
        )
    return amounts


def _binary_target(
    col: pa.ChunkedArray, *, spec: Spec, column: str, report: Problems, decimal: str
) -> pa.ChunkedArray:
    positive = spec.positive
    if isinstance(positive, bool):
        values = _booleans(col, column=column, report=report)
        wanted: Any = 1.0 if positive else 0.0
    elif isinstance(positive, int | float):
        role = f"the target (compared as a number with [target] positive = {positive})"
        values = numbers(
            col, column=column, report=report, decimal=decimal, role=role, fix="fix the value"
        )
        wanted = float(positive)
    else:
        values, wanted = text_of(col), str(positive)
        _check_case(values, positive=wanted, column=column, report=report)
    check_present(text_of(col), column=column, report=report, what="a label")
    is_positive = pc.equal(values, pa.scalar(wanted, values.type)).cast(pa.float64())
    _check_two_classes(is_positive, column=column, report=report, positive=positive)
    return is_positive


def _check_case(values: pa.ChunkedArray, *, positive: str, column: str, report: Problems) -> None:
    # 'Yes' is not 'yes', but a label differing from [target] positive only in case is far
    # more likely a typo than a negative, and would silently become one.
    near = pc.and_(
        pc.equal(pc.utf8_lower(values), positive.lower()), pc.not_equal(values, positive)
    )
    if _any(near):
        report.add(
            column,
            f"Column '{column}' holds {report.cells(values, near)} in {report.name}, "
            f"which differs from [target] positive '{positive}' only in case; make them match",
        )


def _check_two_classes(
    labels: pa.ChunkedArray, *, column: str, report: Problems, positive: Any = None
) -> None:
    distinct = pc.drop_null(pc.unique(labels))
    if len(distinct) != 1:  # none at all is already reported as missing labels
        return
    only = distinct[0].as_py()
    if positive is None:
        single = f"'{only}'"
    else:
        shown = str(positive).lower() if isinstance(positive, bool) else repr(positive)
        single = f"(every row {'is' if only == 1.0 else 'is not'} positive = {shown})"
    report.add(
        column,
        f"Column '{column}' in {report.name} has a single class {single}; "
        f"a model needs at least two",
    )
