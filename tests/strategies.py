"""Hypothesis strategies shared by the property tests: raw signal values as CRM exports and
JSON requests deliver them (numbers, numeric text, booleans in many spellings, missing
markers, unicode, unseen categories)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

CATEGORIES = ["spring_menu", "Café Crème", "Zürich", "none", "12", " padded ", "UPPER"]

missing_values = st.sampled_from([None, float("nan"), "", "NA", "n/a", "null", " "])

category_values: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(CATEGORIES),
    st.text(min_size=1, max_size=8),  # mostly unseen categories, unicode included
    st.integers(min_value=-5, max_value=20),
    st.floats(min_value=0, max_value=20).map(float),
    missing_values,
)

number_values: st.SearchStrategy[Any] = st.one_of(
    st.floats(allow_nan=True, allow_infinity=False, width=64),
    st.integers(min_value=-(10**9), max_value=10**9),
    st.floats(min_value=-1e6, max_value=1e6).map(lambda x: f" {x!r} "),
    st.booleans(),
    missing_values,
)

bool_values: st.SearchStrategy[Any] = st.one_of(
    st.booleans(),
    st.sampled_from(["yes", "No", "TRUE", "false", "1", "0", "y", "N", 1, 0, 1.0, 0.0]),
    missing_values,
)


def records(
    categorical: list[str], numeric: list[str], boolean: list[str]
) -> st.SearchStrategy[dict[str, Any]]:
    """Signal dicts over the given columns; any key may be absent."""
    fields: dict[str, st.SearchStrategy[Any]] = {}
    fields.update({c: category_values for c in categorical})
    fields.update({c: number_values for c in numeric})
    fields.update({c: bool_values for c in boolean})
    return st.fixed_dictionaries({}, optional=fields)
