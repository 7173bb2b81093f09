"""Readable reasons from LightGBM's own per-feature contributions (``pred_contrib``).

For each customer the (up to) three features that moved the score the most towards the
tier given, never one that argues against it, as ``{"feature", "value", "effect",
"text"}`` with text like ``"visits_90d = 14, raises vip"``.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tierline.engine.values import category_text, is_missing, parse_bool, parse_number

__all__ = ["Reason", "describe", "join_texts", "supporting_reasons", "top_contributions"]

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


def describe(
    *, feature: str, value: str, effect: float, target: str, label: str | None = None
) -> Reason:
    """One reason; ``target`` names what the effect moves (a tier, or 'the score');
    ``label`` (the spec's words for this value) stands in for ``feature = value``."""
    verb = "raises" if effect >= 0 else "lowers"
    said = label if label is not None else f"{feature} = {value}"
    return Reason(
        feature=feature, value=value, effect=float(effect), text=f"{said}, {verb} {target}"
    )


def supporting_reasons(
    *,
    top: Iterable[tuple[str, float]],
    direction: float,
    value_of: Callable[[str], Any],
    target: str,
    labels: Mapping[str, str],
    numeric: Container[str],
    boolean: Container[str],
) -> list[Reason]:
    """One customer's reasons from its ``top`` (feature, effect) pairs: the raw value of
    each (``value_of``) shown as the spec's label says, or as ``name = value``."""
    out: list[Reason] = []
    for name, effect in top:
        # A signal the model does not read moves nothing; one that pushed the other way
        # argues against the tier given: neither is a reason for it.
        if effect == 0.0 or effect * direction < 0:
            continue
        raw = value_of(name)
        out.append(
            describe(
                feature=name,
                value=_display(raw, boolean=name in boolean),
                effect=effect,
                target=target,
                label=_labelled(
                    labels.get(name), raw, numeric=name in numeric, boolean=name in boolean
                ),
            )
        )
    return out


def _labelled(label: str | None, raw: Any, *, numeric: bool, boolean: bool) -> str | None:
    """The spec's label for a known value ("spent 1,234 € in the last year"), or None (the
    reason then reads "name = value"): a missing value or one the label cannot show."""
    if label is None or is_missing(raw):
        return None
    try:
        if boolean:
            return label.format(value=_display(raw, boolean=True))
        return label.format(value=parse_number(raw) if numeric else category_text(raw))
    except (ValueError, TypeError):
        return None


def _display(value: Any, *, boolean: bool = False) -> str:
    """How a raw signal reads in a reason: yes/no, the category text, a tidy number, or 'unknown'."""
    if boolean:
        try:
            flag = parse_bool(value)
        except ValueError:
            return str(value)
        return "unknown" if flag != flag else ("yes" if flag else "no")
    if is_missing(value):
        return "unknown"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.4g}"
    text = category_text(value)
    return "unknown" if text is None else text


def join_texts(reasons: Sequence[Reason]) -> str:
    return "; ".join(r.text for r in reasons)
