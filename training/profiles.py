"""A customer table as the store's profiles (``tierline customers import``).

The file is read with the champion's spec exactly as training reads it
(``training.data.load_customers``), and each row becomes the signals a CRM would send
with ``PUT /v1/customers/{id}``: plain JSON values (numbers, text, true/false, times as
ISO text), a missing value absent. Every row is checked against the API's limits before
anything is written, and every bad row is reported in one error.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tierline.engine.errors import DataError
from tierline.engine.spec import Spec
from tierline.engine.store.bulk_customers import Profile
from tierline.engine.store.customers import CUSTOMER_ID_PATTERN
from tierline.training.data import boolean_columns, load_customers

__all__ = ["MAX_PROFILE_TEXT", "read_profiles"]

# Characters of text in one profile: what fits in a PUT under the API's default body limit.
MAX_PROFILE_TEXT = 60_000
MAX_SIGNAL_NAME = 100
_SHOWN = 50  # bad rows listed in the error; the count names the rest


def read_profiles(path: str | Path, spec: Spec) -> list[Profile]:
    """The profiles of a customer table, in file order: ``(id, signals)`` with every
    column the spec reads from a customer table except the id and the target.

    Raises ``SpecError`` for a declared column missing from the file and ``DataError``
    for a value that does not fit its type or the API's limits (every bad row at once)."""
    frame = load_customers(path, spec, with_target=False)
    return _profiles(frame, spec, source=Path(path).name)


def _profiles(frame: pd.DataFrame, spec: Spec, *, source: str) -> list[Profile]:
    names = [c for c in frame.columns if c != spec.id]
    for name in names:
        if len(name) > MAX_SIGNAL_NAME or "\x00" in name:
            raise DataError(
                f"Column '{name[:40]}...' of {source} cannot be a signal name: at most "
                f"{MAX_SIGNAL_NAME} characters and no NUL; rename it in the file and the spec"
            )
    problems: dict[int, list[str]] = defaultdict(list)
    ids = frame[spec.id]
    good_id = ids.str.fullmatch(CUSTOMER_ID_PATTERN).fillna(False).to_numpy(dtype=bool)
    for row in np.flatnonzero(~good_id):
        problems[int(row)].append(
            "the id is not 1 to 128 letters, digits or . _ : @ - (the API's customer ids)"
        )
    booleans = boolean_columns(spec)
    text = np.zeros(len(frame), dtype=np.int64)
    columns: list[list[Any]] = []
    for name in names:
        col = frame[name]
        if name in booleans:
            columns.append(_booleans(col.to_numpy(dtype=np.float64)))
        elif pd.api.types.is_float_dtype(col.dtype):
            columns.append(_numbers(col.to_numpy(dtype=np.float64), name, problems))
        elif pd.api.types.is_datetime64_any_dtype(col.dtype):
            columns.append(_times(col))
        else:
            columns.append(_texts(col, name, problems))
            text += col.str.len().fillna(0).to_numpy(dtype=np.int64)
    for row in np.flatnonzero(text > MAX_PROFILE_TEXT):
        problems[int(row)].append(f"its text is longer than {MAX_PROFILE_TEXT:,} characters")
    if problems:
        raise DataError(_report(problems, ids, source))
    return [
        (customer_id, {k: v for k, v in zip(names, values, strict=True) if v is not None})
        for customer_id, values in zip(ids.tolist(), zip(*columns, strict=True), strict=True)
    ]


def _booleans(values: np.ndarray) -> list[Any]:
    out = (values == 1.0).astype(object)
    out[np.isnan(values)] = None
    return list(out.tolist())


def _numbers(values: np.ndarray, name: str, problems: dict[int, list[str]]) -> list[Any]:
    for row in np.flatnonzero(np.isinf(values)):
        problems[int(row)].append(f"'{name}' is {values[row]}; numbers must be finite")
    # Whole numbers as integers, as a CRM sends them: the model reads 4 and 4.0 alike.
    whole = np.isfinite(values) & (np.floor(values) == values) & (np.abs(values) < 2.0**53)
    out = values.astype(object)
    out[whole] = values[whole].astype(np.int64).astype(object)
    out[np.isnan(values)] = None
    return list(out.tolist())


def _times(col: pd.Series) -> list[Any]:
    text = np.datetime_as_string(col.to_numpy(dtype="datetime64[us]"), unit="s").astype(object)
    text[col.isna().to_numpy()] = None
    return list(text.tolist())


def _texts(col: pd.Series, name: str, problems: dict[int, list[str]]) -> list[Any]:
    nul = col.str.contains("\x00", regex=False).fillna(False).to_numpy(dtype=bool)
    for row in np.flatnonzero(nul):
        problems[int(row)].append(f"'{name}' holds the NUL character (\\u0000)")
    return list(col.astype(object).where(col.notna(), None).tolist())


def _report(problems: dict[int, list[str]], ids: pd.Series, source: str) -> str:
    rows = sorted(problems)
    lines = [
        f"  row {row + 1} (id {str(ids.iat[row])[:40]!r}): {'; '.join(problems[row])}"
        for row in rows[:_SHOWN]
    ]
    if len(rows) > _SHOWN:
        lines.append(f"  ... and {len(rows) - _SHOWN:,} more")
    return (
        f"{len(rows):,} row{'s' if len(rows) > 1 else ''} of {source} cannot be imported "
        f"(nothing was written); fix them and import again:\n" + "\n".join(lines)
    )
