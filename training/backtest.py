"""The backtest at a retrain from the store: how the champion's own logged decisions did.

Braze's check at every retrain: take the decisions the champion made in the exported
window whose outcome is known, and score what it said then (the logged tier and score)
against what happened (the spec's target column of the export), with the same headline
metric the gate compares (``training.evaluate.PRIMARY``). It is reported next to the
challenger's score on its held-out rows; it informs, it does not gate: the two are
measured on different customers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tierline.engine.spec import Spec
from tierline.engine.values import parse_bool
from tierline.training.evaluate import PRIMARY, measure

__all__ = ["backtest"]

# Below this many matured decisions the metric says more about chance than the model.
MIN_ROWS = 50


def backtest(frame: pd.DataFrame, spec: Spec, champion: str | None) -> dict[str, Any]:
    """The champion's logged decisions in ``frame`` (an export: ``model_version``,
    ``tier``, ``score`` and the target column) against their outcomes."""
    metric = PRIMARY[spec.target_kind]
    out: dict[str, Any] = {"metric": metric, "model_version": champion, "rows": 0, "value": None}
    target = spec.target_column
    if champion is None or target is None or target not in frame.columns:
        out["why"] = "no champion to backtest" if champion is None else "no target column"
        return out
    mine = frame[(frame["model_version"] == champion) & frame[target].notna()]
    out["rows"] = len(mine)
    if len(mine) < MIN_ROWS:
        out["why"] = (
            f"{len(mine)} of the champion's decisions in the window have a known outcome; "
            f"a backtest needs at least {MIN_ROWS}"
        )
        return out
    y = _labels(mine[target], spec)
    scores = None if spec.target_kind == "class" else mine["score"].to_numpy(dtype=np.float64)
    measured = measure(spec, y_true=y, tier_pred=mine["tier"].to_numpy(), scores=scores)
    out["value"] = measured.get(metric)
    out["why"] = f"{metric} of {len(mine):,} logged decisions against what happened"
    return out


def _labels(column: pd.Series, spec: Spec) -> np.ndarray:
    if spec.target_kind == "class":
        return column.astype(str).to_numpy(dtype=object)
    if spec.target_kind == "binary":
        positive = spec.positive
        if isinstance(positive, bool):
            values = np.fromiter(
                (_bool_or_nan(v) for v in column), dtype=np.float64, count=len(column)
            )
            return (values == float(positive)).astype(np.float64)
        if isinstance(positive, int | float):
            return (pd.to_numeric(column, errors="coerce") == positive).to_numpy(dtype=np.float64)
        return (column.astype(str) == str(positive)).to_numpy(dtype=np.float64)
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)


def _bool_or_nan(value: Any) -> float:
    try:
        return parse_bool(value)
    except ValueError:
        return np.nan
