"""Readable reasons from LightGBM's own per-feature contributions (``pred_contrib``).

For each customer the three features that moved the decided tier's score the most,
as ``{"feature", "value", "effect", "text"}`` with text like
``"visits_90d = 14, raises vip"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Reason", "describe", "join_texts", "top_contributions"]

TOP_N = 3


@dataclass(frozen=True)
class Reason:
    feature: str
    value: str
    effect: float
    text: str


def top_contributions(
    *, contrib: np.ndarray, n_features: int, class_index: np.ndarray | None, top_n: int = TOP_N
) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``top_n`` largest absolute contributions per row.

    ``contrib`` is ``Booster.predict(..., pred_contrib=True)``: ``n x (F + 1)`` for one
    output (the last column is the bias), ``n x K(F + 1)`` for K classes, in which case
    ``class_index`` picks, per row, the class whose contributions explain the decision.
    """
    width = n_features + 1
    if class_index is not None:
        cols = class_index[:, None] * width + np.arange(n_features)[None, :]
        per_feature = np.take_along_axis(contrib, cols, axis=1)
    else:
        per_feature = contrib[:, :n_features]
    k = min(top_n, n_features)
    part = np.argpartition(-np.abs(per_feature), k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(per_feature, part, axis=1)
    order = np.argsort(-np.abs(vals), axis=1, kind="stable")
    idx = np.take_along_axis(part, order, axis=1)
    return idx, np.take_along_axis(vals, order, axis=1)


def describe(*, feature: str, value: str, effect: float, target: str) -> Reason:
    """One reason; ``target`` names what the effect moves (a tier, or 'the score')."""
    verb = "raises" if effect >= 0 else "lowers"
    return Reason(
        feature=feature,
        value=value,
        effect=float(effect),
        text=f"{feature} = {value}, {verb} {target}",
    )


def join_texts(reasons: Sequence[Reason]) -> str:
    return "; ".join(r.text for r in reasons)
