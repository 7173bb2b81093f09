"""A customer table as the store's profiles (``tierline customers import``).

The file is read with the champion's spec exactly as training reads it
(``training.data.load_customers``), and each row becomes the signals a CRM would send
with ``PUT /v1/customers/{id}``: plain JSON values (numbers, text, true/false, times as
ISO text), a missing value absent. Every row is checked against the API's limits before
anything is written, and every bad row is reported in one error.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

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
# The store's own JSON style (engine.store.database): readable unicode, no spaces.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def read_profiles(path: str | Path, spec: Spec, *, model: str | None = None) -> list[Profile]:
    """The profiles of a customer table, in file order: ``(id, signals)`` with every
    column the spec reads from a customer table except the id and the target, the
    signals as JSON text ready for ``Store.upsert_customers``.

    Raises ``SpecError`` for a declared column missing from the file and ``DataError``
    for a value that does not fit its type or the API's limits (every bad row at once).
    ``model``: the version whose spec this is."""
    frame = load_customers(path, spec, with_target=False, model=model)
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
    # Each column becomes its part of every row's JSON text ('"name":value,' or '' when
    # missing), built per column with numpy: no dict per row, no encoder call per row.
    parts: list[np.ndarray] = []
    for name in names:
        col = frame[name]
        key = _dumps(name) + ":"
        if name in booleans:
            parts.append(_booleans(col.to_numpy(dtype=np.float64), key))
        elif pd.api.types.is_float_dtype(col.dtype):
            parts.append(_numbers(col.to_numpy(dtype=np.float64), key, name, problems))
        elif pd.api.types.is_datetime64_any_dtype(col.dtype):
            parts.append(_times(col, key))
        else:
            parts.append(_texts(col, key, name, problems))
            text += col.str.len().fillna(0).to_numpy(dtype=np.int64)
    for row in np.flatnonzero(text > MAX_PROFILE_TEXT):
        problems[int(row)].append(f"its text is longer than {MAX_PROFILE_TEXT:,} characters")
    if problems:
        raise DataError(_report(problems, ids, source))
    rows = ["".join(row) for row in zip(*(p.tolist() for p in parts), strict=True)]
    return [
        (customer_id, "{" + row[:-1] + "}")  # without the last part's comma
        for customer_id, row in zip(ids.tolist(), rows, strict=True)
    ]


def _booleans(values: np.ndarray, key: str) -> np.ndarray:
    out = np.where(values == 1.0, key + "true,", key + "false,").astype(object)
    out[np.isnan(values)] = ""
    return out


def _numbers(values: np.ndarray, key: str, name: str, problems: dict[int, list[str]]) -> np.ndarray:
    for row in np.flatnonzero(np.isinf(values)):
        problems[int(row)].append(f"'{name}' is {values[row]}; numbers must be finite")
    # Whole numbers as integers, as a CRM sends them: the model reads 4 and 4.0 alike.
    finite = np.isfinite(values)
    whole = finite & (np.floor(values) == values) & (np.abs(values) < 2.0**53)
    fraction = finite & ~whole
    out = np.full(len(values), "", dtype=object)
    # numpy writes a float's shortest round-trip text, which JSON reads as the same number.
    for mask, text in ((whole, values[whole].astype(np.int64)), (fraction, values[fraction])):
        out[mask] = np.char.add(np.char.add(key, text.astype(str)), ",")
    return out


def _times(col: pd.Series, key: str) -> np.ndarray:
    text = np.datetime_as_string(col.to_numpy(dtype="datetime64[us]"), unit="s").astype(object)
    out = key + '"' + text + '",'
    out[col.isna().to_numpy()] = ""
    return np.asarray(out, dtype=object)


def _texts(col: pd.Series, key: str, name: str, problems: dict[int, list[str]]) -> np.ndarray:
    nul = col.str.contains("\x00", regex=False).fillna(False).to_numpy(dtype=bool)
    for row in np.flatnonzero(nul):
        problems[int(row)].append(f"'{name}' holds the NUL character (\\u0000)")
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    parts = np.array([*(f"{key}{_dumps(v)}," for v in uniques), ""], dtype=object)
    return parts[codes]  # code -1 (missing) takes the last, empty part


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
