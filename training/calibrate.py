"""Fitting the probability calibration (``engine.calibration``) on the validation slice,
and the reliability figures the report shows before and after it."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize, minimize_scalar

from tierline.engine.calibration import Calibration

__all__ = ["fit_calibration", "reliability"]

_EPS = 1e-12
_BINS = 10
# Below this many validation rows a calibration would follow noise: leave it alone.
MIN_ROWS = 200


def fit_calibration(kind: str, y: np.ndarray, out: np.ndarray) -> Calibration:
    """The calibration minimizing log loss on ``(y, out)``; the identity when it would not
    help, the rows are too few, or the fit is degenerate."""
    if kind == "value" or len(y) < MIN_ROWS:
        return Calibration()
    if kind == "binary":
        if len(np.unique(y)) < 2:
            return Calibration()
        p = np.clip(out, _EPS, 1 - _EPS)
        logit = np.log(p) - np.log1p(-p)

        def loss(ab: np.ndarray) -> float:
            z = ab[0] * logit + ab[1]
            return float(np.mean(np.logaddexp(0, z) - y * z))

        fit = minimize(
            loss, x0=np.array([1.0, 0.0]), method="L-BFGS-B", bounds=[(0.01, 100), (-20, 20)]
        )
        found = Calibration(method="platt", a=float(fit.x[0]), b=float(fit.x[1]))
    else:
        labels = y.astype(np.int64)
        logp = np.log(np.clip(out, _EPS, 1.0))

        def nll(t: float) -> float:
            z = logp / t
            z = z - z.max(axis=1, keepdims=True)
            log_norm = np.log(np.exp(z).sum(axis=1))
            return float(np.mean(log_norm - z[np.arange(len(z)), labels]))

        t = minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x
        found = Calibration(method="temperature", temperature=float(t))
    better = _log_loss(kind, y, found.apply(out)) < _log_loss(kind, y, out) - 1e-9
    return found if better else Calibration()


def reliability(kind: str, y: np.ndarray, out: np.ndarray) -> dict[str, Any]:
    """Expected calibration error and its bins (predicted vs observed rate of the predicted
    class; for binary, of the positive class), on ``_BINS`` equal-width bins."""
    if kind == "class":
        conf = out.max(axis=1)
        hit = (out.argmax(axis=1) == y.astype(np.int64)).astype(np.float64)
    else:
        conf, hit = np.asarray(out, dtype=np.float64), np.asarray(y, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, _BINS + 1)
    which = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, _BINS - 1)
    bins, ece = [], 0.0
    for b in range(_BINS):
        mask = which == b
        if not mask.any():
            continue
        predicted, observed = float(conf[mask].mean()), float(hit[mask].mean())
        ece += mask.mean() * abs(predicted - observed)
        bins.append(
            {
                "predicted": round(predicted, 4),
                "observed": round(observed, 4),
                "rows": int(mask.sum()),
            }
        )
    return {
        "ece": round(float(ece), 5),
        "log_loss": round(_log_loss(kind, y, out), 5),
        "bins": bins,
    }


def _log_loss(kind: str, y: np.ndarray, out: np.ndarray) -> float:
    if kind == "class":
        p = np.clip(out[np.arange(len(y)), y.astype(np.int64)], _EPS, 1.0)
        return float(-np.mean(np.log(p)))
    p = np.clip(out, _EPS, 1 - _EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))
