"""The model report's figures, computed at training time on the held-out customers.

They are stored compactly in the version's metadata (``metadata["report"]``), so
`tierline report` draws them later without the training data:

* ``tier_counts``: customers per tier the model gives (and, for class targets, per tier
  they turned out to be: ``actual_tier_counts``);
* ``gains``: customers ranked by score against the share of what matters that the top of
  the ranking holds (positives, amount, or the first tier's customers), for the model and
  each baseline, at ``GAINS_POINTS`` evenly spaced shares;
* ``calibration`` (binary and value): predicted against observed means by score decile;
* ``importance``: LightGBM's total gain per input column, the ``TOP_FEATURES`` largest.

Class targets keep their confusion matrix in the metrics (``training.evaluate``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lightgbm as lgb
import numpy as np

from tierline.engine.linear import LinearModel
from tierline.engine.spec import Spec

__all__ = [
    "CALIBRATION_BINS",
    "GAINS_POINTS",
    "TOP_FEATURES",
    "calibration",
    "feature_importance",
    "gains_curve",
    "report_figures",
]

GAINS_POINTS = 20
CALIBRATION_BINS = 10
TOP_FEATURES = 20
_DIGITS = 4  # plenty for a chart; keeps metadata.json small


def _ranking(scores: np.ndarray) -> np.ndarray:
    """One number per customer to rank by: class scores rank by the first tier's column."""
    s = np.asarray(scores, dtype=np.float64)
    return s[:, 0] if s.ndim == 2 else s


def _captured(spec: Spec, y_true: np.ndarray) -> np.ndarray:
    """What a good ranking puts first: positives, amounts (never negative), first-tier rows."""
    if spec.target_kind == "class":
        return (np.asarray(y_true, dtype=object) == spec.tiers[0]).astype(np.float64)
    y = np.asarray(y_true, dtype=np.float64)
    return np.clip(y, 0.0, None) if spec.target_kind == "value" else y


def gains_curve(
    score: np.ndarray, captured: np.ndarray, *, points: int = GAINS_POINTS
) -> list[float] | None:
    """The share of ``captured`` held by the top 0, 1/points, ..., 1 of customers by score.

    Tied scores share their part evenly (the expectation over their orders), so a constant
    score gives the diagonal. None when there is nothing to capture.
    """
    score = np.asarray(score, dtype=np.float64)
    captured = np.asarray(captured, dtype=np.float64)
    total = float(captured.sum())
    if len(score) == 0 or total <= 0:
        return None
    order = np.argsort(-score, kind="stable")
    ranked = score[order]
    ends = np.flatnonzero(np.r_[ranked[1:] != ranked[:-1], True]) + 1  # tie groups' ends
    xs = np.r_[0, ends] / len(ranked)
    ys = np.r_[0.0, np.cumsum(captured[order])[ends - 1]] / total
    grid = np.linspace(0.0, 1.0, points + 1)
    return [round(float(v), _DIGITS) for v in np.interp(grid, xs, ys)]


def calibration(
    score: np.ndarray, observed: np.ndarray, *, bins: int = CALIBRATION_BINS
) -> list[dict[str, Any]]:
    """Mean predicted and mean observed per score decile (lowest first), with row counts."""
    score = np.asarray(score, dtype=np.float64)
    observed = np.asarray(observed, dtype=np.float64)
    order = np.argsort(score, kind="stable")
    out = []
    for part in np.array_split(order, min(bins, len(order))):
        if len(part):
            out.append(
                {
                    "predicted": round(float(score[part].mean()), _DIGITS),
                    "observed": round(float(observed[part].mean()), _DIGITS),
                    "rows": len(part),
                }
            )
    return out


def feature_importance(
    booster: lgb.Booster, names: Sequence[str], *, iteration: int, top: int = TOP_FEATURES
) -> list[dict[str, Any]]:
    """Total gain per input column (the spec's names, not LightGBM's), largest first."""
    gain = np.asarray(
        booster.feature_importance(importance_type="gain", iteration=iteration), dtype=np.float64
    )
    return _ranked(gain, names, top=top)


def linear_importance(
    model: LinearModel, X: np.ndarray, names: Sequence[str], *, top: int = TOP_FEATURES
) -> list[dict[str, Any]]:
    """A linear model's mean absolute contribution per input column on ``X`` (summed over
    classes), in the same shape as ``feature_importance``."""
    contrib = model.contributions(X)
    f = len(names)
    blocks = contrib.reshape(len(X), -1, f + 1)[:, :, :f]
    return _ranked(np.abs(blocks).sum(axis=1).mean(axis=0), names, top=top)


def _ranked(gain: np.ndarray, names: Sequence[str], *, top: int) -> list[dict[str, Any]]:
    total = float(gain.sum())
    order = np.argsort(-gain, kind="stable")[:top]
    return [
        {
            "feature": str(names[i]),
            "gain": round(float(gain[i]), 2),
            "share": round(float(gain[i]) / total, _DIGITS) if total > 0 else 0.0,
        }
        for i in order
    ]


def _counts(tiers: Sequence[str], values: np.ndarray) -> dict[str, int]:
    values = np.asarray(values, dtype=object)
    return {t: int(np.sum(values == t)) for t in tiers}


def report_figures(
    *,
    spec: Spec,
    y_true: np.ndarray,
    tier_pred: np.ndarray,
    scores: np.ndarray,
    baseline_scores: Mapping[str, np.ndarray],
    importance: list[dict[str, Any]],
) -> dict[str, Any]:
    """Everything the report draws that the metrics do not already hold; ``importance``
    from ``feature_importance`` or ``linear_importance``."""
    captured = _captured(spec, y_true)
    curves = {"model": gains_curve(_ranking(scores), captured)}
    for name, s in baseline_scores.items():
        curves[name] = gains_curve(_ranking(s), captured)
    of = {"class": f"tier {spec.tiers[0]}", "binary": "positives", "value": "amount"}
    out: dict[str, Any] = {
        "tier_counts": _counts(spec.tiers, tier_pred),
        "gains": {
            "of": of[spec.target_kind],
            "x": [round(float(x), _DIGITS) for x in np.linspace(0.0, 1.0, GAINS_POINTS + 1)],
            "curves": {k: v for k, v in curves.items() if v is not None},
        },
        "importance": importance,
    }
    if spec.target_kind == "class":
        out["actual_tier_counts"] = _counts(spec.tiers, y_true)
    else:
        out["calibration"] = calibration(_ranking(scores), np.asarray(y_true, dtype=np.float64))
    return out
