"""How raw cell values read: the one definition of booleans, missing markers and categories.

The batch loader (training.data, vectorised) and the single-record path (engine.features,
plain Python) both read values through these definitions, so a value means the same thing
whether it arrives in a CSV export or in a JSON request.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "FALSE_TOKENS",
    "MISSING_TOKENS",
    "TRUE_TOKENS",
    "category_text",
    "is_missing",
    "map_column",
    "parse_bool",
    "parse_number",
]

# Compared after stripping and lower-casing.
TRUE_TOKENS = frozenset({"true", "yes", "y", "t", "1", "1.0"})
FALSE_TOKENS = frozenset({"false", "no", "n", "f", "0", "0.0"})
# Cells that mean "unknown" in CRM exports; compared after stripping and lower-casing.
MISSING_TOKENS = frozenset({"", "na", "n/a", "#n/a", "nan", "null", "none", "-", "?"})


def is_missing(value: Any) -> bool:
    """True for None, NaN and the textual missing markers."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, str):
        return value.strip().lower() in MISSING_TOKENS
    return False


def parse_bool(value: Any) -> float:
    """1.0, 0.0 or NaN (missing); raise ValueError for anything else."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if is_missing(value):
        return math.nan
    if isinstance(value, int | float):
        if value in (0, 1):
            return float(value)
        raise ValueError(f"{value!r} is not a boolean")
    if isinstance(value, str):
        token = value.strip().lower()
        if token in TRUE_TOKENS:
            return 1.0
        if token in FALSE_TOKENS:
            return 0.0
    raise ValueError(f"{value!r} is not a boolean (use yes/no, true/false or 1/0)")


def parse_number(value: Any) -> float:
    """A float or NaN (missing, or an integer too large for a float); raise ValueError for
    text that is not a number."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an integer past the float64 range: no model can read it
            return math.nan
        # One NaN bit pattern for "missing" and one zero (+ 0.0 turns -0.0 into 0.0), so
        # every path gives identical bytes.
        return math.nan if number != number else number + 0.0
    if is_missing(value):
        return math.nan
    if isinstance(value, str) and "_" not in value:  # float() takes "1_000"; CSV readers don't
        return float(value.strip()) + 0.0
    raise ValueError(f"{value!r} is not a number")


def category_text(value: Any) -> str | None:
    """The category a value names (stripped text), or None when missing.

    Whole numbers read as integers ("12", not "12.0"), so a code sent as JSON 12 or 12.0
    matches the same code read from a CSV file.
    """
    if is_missing(value):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def map_column(
    values: pd.Series, fn: Callable[[Any], Any], *, missing: Any, dtype: Any
) -> np.ndarray:
    """Apply ``fn`` to a column the way the single-record path applies it to one value.

    ``fn`` runs once per distinct value (``pd.factorize``), not per row, so a million rows
    with a few hundred distinct values cost a few hundred calls; missing cells (None, NaN,
    NA) take ``missing``, exactly what ``fn`` gives a missing value on the record path.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.empty(len(uniques) + 1, dtype=dtype)
    for i, value in enumerate(uniques):
        mapped[i] = fn(value)
    mapped[-1] = missing  # code -1 (a missing cell) indexes the last slot
    return mapped[codes]
