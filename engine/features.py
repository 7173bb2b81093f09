"""The feature builder: raw customer signals -> the float64 row the model reads.

One fitted ``FeatureBuilder`` serves both paths:

* ``transform(frame)`` for batches (vectorised, pandas at the boundary), and
* ``transform_record(signals)`` for one customer (dict look-ups, no pandas),

and the two give the same row to the last bit, because both read every value through
``engine.values`` and the batch path applies those functions once per distinct value.

Encoding, on purpose:

* categorical: the category's index in a vocabulary learnt at fit time (the most frequent
  categories, seen at least ``min_frequency`` times, at most ``max_categories``). Rare
  and unseen categories share one "other" code (the vocabulary's length), so the model
  learns what to do with them during training; a missing value stays NaN, which
  LightGBM treats as missing.
* numeric: float64, NaN when missing.
* boolean: 1.0 / 0.0, NaN when missing.

The fitted state is plain JSON (``to_json`` / ``from_json``): no pickle is ever loaded on
the serving path.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from tierline.engine.errors import DataError
from tierline.engine.values import category_text, map_column, parse_bool, parse_number

__all__ = ["FeatureBuilder"]

log = logging.getLogger("tierline.features")

_STATE_VERSION = 1


class FeatureBuilder(TransformerMixin, BaseEstimator):
    """Turn declared categorical, numeric and boolean columns into a float64 matrix.

    It follows the estimator contract (``__init__`` stores, ``fit`` learns ``categories_``
    and returns self, ``transform`` checks it is fitted) but is not run through
    ``parametrize_with_checks``: those checks feed anonymous numeric arrays, while this
    transformer is driven by a spec's named, mixed-type columns (text categories, yes/no
    booleans). Its own tests pin the behaviour those checks would (determinism, state
    round trip, refusal before fit, unseen and missing values).

    Parameters
    ----------
    categorical, numeric, boolean:
        Column names of each kind; the output columns follow this order.
    max_categories:
        The largest vocabulary kept per categorical column.
    min_frequency:
        Categories seen fewer times than this at fit time are encoded as "other".
    """

    def __init__(
        self,
        *,
        categorical: Sequence[str] = (),
        numeric: Sequence[str] = (),
        boolean: Sequence[str] = (),
        max_categories: int = 250,
        min_frequency: int = 5,
    ) -> None:
        self.categorical = categorical
        self.numeric = numeric
        self.boolean = boolean
        self.max_categories = max_categories
        self.min_frequency = min_frequency

    # -- fitting -------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: Any = None) -> FeatureBuilder:
        """Learn each categorical column's vocabulary from ``X`` (which needs those columns)."""
        if not isinstance(X, pd.DataFrame):
            raise TypeError("FeatureBuilder.fit needs a pandas DataFrame with the declared columns")
        if self.max_categories < 1 or self.min_frequency < 1:
            raise ValueError("max_categories and min_frequency must be at least 1")
        columns = [*self.categorical, *self.numeric, *self.boolean]
        if len(set(columns)) != len(columns):
            raise ValueError("a column is declared under two kinds")
        # Only categorical columns have something to learn; numbers and booleans need not
        # be present at fit time (training passes just the categorical columns).
        missing = [c for c in self.categorical if c not in X.columns]
        if missing:
            raise DataError(
                f"Column '{missing[0]}' is missing from the data given to the feature builder"
            )
        self.categories_ = {col: self._vocabulary(X[col]) for col in self.categorical}
        self._compile()
        return self

    def _vocabulary(self, values: pd.Series) -> list[str]:
        counts = pd.Series(
            map_column(values, category_text, missing=None, dtype=object)
        ).value_counts()
        kept = counts[counts >= self.min_frequency]
        # Most frequent first; ties broken by the text so the vocabulary is deterministic.
        ordered = sorted(kept.items(), key=lambda kv: (-kv[1], kv[0]))
        return [str(k) for k, _ in ordered[: self.max_categories]]

    def _compile(self) -> None:
        """Derive the look-up tables both paths use from the learnt state."""
        self.feature_names_out_ = [*self.categorical, *self.numeric, *self.boolean]
        self.n_features_out_ = len(self.feature_names_out_)
        self._index = {
            col: {v: float(i) for i, v in enumerate(vocab)}
            for col, vocab in self.categories_.items()
        }
        # The record path walks this plan: (output position, column, kind, vocabulary index).
        plan: list[tuple[int, str, str, dict[str, float] | None]] = []
        for pos, col in enumerate(self.feature_names_out_):
            if col in self._index:
                plan.append((pos, col, "categorical", self._index[col]))
            elif col in self.numeric:
                plan.append((pos, col, "numeric", None))
            else:
                plan.append((pos, col, "boolean", None))
        self._plan = plan
        self._reported: set[str] = set()  # signals already logged as unreadable

    def _unreadable(self, col: str) -> float:
        """Missing, for a number no float can hold (as ``parse_number`` reads it in a
        batch); logged once per signal, by name only (the value is a customer's)."""
        if col not in self._reported:
            self._reported.add(col)
            log.warning(
                "Signal '%s' holds a number too large for a float; it is read as missing "
                "(logged once per signal)",
                col,
            )
        return math.nan

    # -- transforming ----------------------------------------------------------------
    def transform(self, X: pd.DataFrame, *, rows: np.ndarray | None = None) -> np.ndarray:
        """Encode a frame; returns a C-contiguous float64 matrix (rows x features).

        ``rows`` (positions) selects and orders the output rows without copying the frame:
        training lays train, validation and test rows out in one matrix this way, which
        keeps its peak memory at one matrix instead of two.
        """
        check_is_fitted(self, "categories_")
        n = len(X) if rows is None else len(rows)
        out = np.empty((n, self.n_features_out_), dtype=np.float64)
        for pos, col, kind, index in self._plan:
            if col not in X.columns:
                out[:, pos] = np.nan  # an absent column is missing for everyone
                continue
            values = X[col]
            if kind == "categorical":
                assert index is not None
                other = float(len(index))
                encode = functools.partial(_encode_category, index=index, other=other)
                column = map_column(values, encode, missing=np.nan, dtype=np.float64)
            elif kind == "numeric":
                column = self._batch_values(values, col, parse_number, "a number")
            else:
                column = self._batch_values(values, col, parse_bool, "a boolean")
            out[:, pos] = column if rows is None else column[rows]
        return out

    @staticmethod
    def _batch_values(values: pd.Series, col: str, parse: Any, what: str) -> np.ndarray:
        dtype = values.dtype
        if (
            pd.api.types.is_float_dtype(dtype)
            or pd.api.types.is_integer_dtype(dtype)
            or pd.api.types.is_bool_dtype(dtype)
        ):
            # Already numbers: float() of each would give the same doubles, only slower.
            if what == "a boolean":
                arr = values.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
                arr[np.isnan(arr)] = np.nan
                bad = ~np.isnan(arr) & (arr != 0.0) & (arr != 1.0)
                if bad.any():
                    raise DataError(
                        f"Column '{col}' should hold booleans but holds {arr[bad][0]!r}"
                    )
                return arr
            arr = values.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
            arr += 0.0  # -0.0 becomes 0.0, as the record path gives
            arr[np.isnan(arr)] = np.nan  # one NaN bit pattern, as the record path gives
            return arr
        try:
            return map_column(values, parse, missing=np.nan, dtype=np.float64)
        except (ValueError, TypeError) as exc:
            raise DataError(f"Column '{col}' should hold {what}: {exc}") from exc

    def transform_record(self, signals: Mapping[str, Any]) -> np.ndarray:
        """Encode one customer's signals (a plain dict); absent keys count as missing."""
        # Once per decision: the plan exists once fitted, and scikit-learn's own check
        # (which raises NotFittedError here) costs more than encoding a few fields.
        if "_plan" not in self.__dict__:
            check_is_fitted(self, "categories_")
        plan = self._plan
        values: list[float] = []
        append = values.append
        get = signals.get
        for _pos, col, kind, index in plan:
            value = get(col)
            kind_of_value = type(value)
            # Plain numbers are the common case; float() gives what parse_number would.
            if kind == "numeric" and (
                kind_of_value is int or (kind_of_value is float and value == value)
            ):
                try:
                    # + 0.0 turns -0.0 into 0.0, as the batch path reads it.
                    append(float(value) + 0.0)  # type: ignore[arg-type]
                except OverflowError:  # a stored integer past the float64 range
                    append(self._unreadable(col))
                continue
            if kind_of_value is str and index is not None:  # a categorical column
                # A vocabulary entry as sent: entries are category_text's own output
                # (stripped, never a missing marker), so the long way gives the same code.
                code = index.get(value)  # type: ignore[arg-type]
                if code is not None:
                    append(code)
                    continue
            try:
                if kind == "categorical":
                    assert index is not None
                    append(_encode_category(value, index, float(len(index))))
                elif kind == "numeric":
                    append(parse_number(value))
                else:
                    append(parse_bool(value))
            except (ValueError, TypeError) as exc:
                raise DataError(f"Signal '{col}' should hold {_WHAT[kind]}: {exc}") from exc
        return np.array(values, dtype=np.float64)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "categories_")
        return np.asarray(self.feature_names_out_, dtype=object)

    def category_of(self, column: str, code: float) -> str:
        """The text behind an encoded category (for reasons): a vocabulary entry or 'other'."""
        if math.isnan(code):
            return "missing"
        vocab = self.categories_[column]
        return vocab[int(code)] if int(code) < len(vocab) else "other"

    # -- state ------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        check_is_fitted(self, "categories_")
        return {
            "version": _STATE_VERSION,
            "categorical": list(self.categorical),
            "numeric": list(self.numeric),
            "boolean": list(self.boolean),
            "max_categories": self.max_categories,
            "min_frequency": self.min_frequency,
            "categories": self.categories_,
        }

    @classmethod
    def from_json(cls, state: Mapping[str, Any]) -> FeatureBuilder:
        if state.get("version") != _STATE_VERSION:
            raise ValueError(f"unsupported feature builder state version {state.get('version')!r}")
        builder = cls(
            categorical=tuple(state["categorical"]),
            numeric=tuple(state["numeric"]),
            boolean=tuple(state["boolean"]),
            max_categories=int(state["max_categories"]),
            min_frequency=int(state["min_frequency"]),
        )
        builder.categories_ = {
            str(k): [str(v) for v in vs] for k, vs in state["categories"].items()
        }
        if set(builder.categories_) != set(builder.categorical):
            raise ValueError(
                "feature builder state lists vocabularies for other columns than its categorical ones"
            )
        builder._compile()
        return builder


_WHAT = {
    "categorical": "a category",
    "numeric": "a number",
    "boolean": "a boolean (yes/no, true/false, 1/0)",
}


def _encode_category(value: Any, index: Mapping[str, float], other: float) -> float:
    text = category_text(value)
    if text is None:
        return math.nan
    return index.get(text, other)
