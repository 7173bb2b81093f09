"""Readable reasons from LightGBM's own per-feature contributions (``pred_contrib``).

For each customer the (up to) three features that moved the score the most towards the
tier given, never one that argues against it, as ``{"feature", "value", "effect",
"text"}`` with text like ``"visits_90d = 14, raises vip"``.
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
    *,
    contrib: np.ndarray,
    n_features: int,
    class_index: np.ndarray | None,
    top_n: int = TOP_N,
    direction: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``top_n`` contributions per row that support the decision:
    the largest in ``direction`` (per row: 1 the tier rests on a high score, -1 on a low
    one, 0 either way, by size). Contributions against it rank last; the caller drops them.

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
    sign = np.ones(len(per_feature)) if direction is None else np.asarray(direction, dtype=float)
    support = np.where(sign[:, None] == 0, np.abs(per_feature), per_feature * sign[:, None])
    part = np.argpartition(-support, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(per_feature, part, axis=1)
    order = np.argsort(-np.take_along_axis(support, part, axis=1), axis=1, kind="stable")
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
