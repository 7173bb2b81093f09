"""Honest numbers on small data: intervals on the headline metric, a floor under which the
held-out set is too small to promote on, and whether evaluated rows were training rows.

**Intervals** come from a Poisson bootstrap of the held-out customers (each customer
weighted by a Poisson(1) draw per resample, ``ROUNDS`` resamples, seeded): ROC AUC from
weighted counts over the scores sorted once (ties count half), macro-F1 from weighted
confusion counts, and Spearman as the weighted correlation of the ranks computed once.
The 2.5th and 97.5th percentiles make the 95 % interval. Every resample is O(n), so a
million held-out rows cost seconds, not minutes.

**Training ids:** the version keeps salted 64-bit digests of a random sample of its
training rows' ids (``SAMPLE`` at most), enough to estimate, for any evaluated file, what
share of its rows the model was trained on, without storing the ids themselves.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "MIN_HELD_OUT",
    "WARN_HELD_OUT",
    "interval",
    "training_ids",
    "training_share",
]

ROUNDS = 200
SEED = 42
SAMPLE = 4096
# Below MIN_HELD_OUT held-out customers auto-promotion is refused; below WARN_HELD_OUT the
# report warns that the figures move a lot with who happened to be held out.
MIN_HELD_OUT = 100
WARN_HELD_OUT = 1000


def interval(kind: str, y: np.ndarray, scores: np.ndarray, *, n_classes: int = 0) -> dict[str, Any]:
    """The 95 % bootstrap interval of the headline metric (see the module's docstring)."""
    n = len(y)
    rng = np.random.default_rng(SEED)
    metric = _metric_fn(kind, np.asarray(y), np.asarray(scores), n_classes)
    values = np.array([metric(rng.poisson(1.0, n).astype(np.float64)) for _ in range(ROUNDS)])
    values = values[np.isfinite(values)]
    if len(values) < ROUNDS // 2:
        return {"low": None, "high": None, "rounds": ROUNDS}
    low, high = np.percentile(values, [2.5, 97.5])
    return {"low": round(float(low), 4), "high": round(float(high), 4), "rounds": ROUNDS}


def _metric_fn(kind: str, y: np.ndarray, scores: np.ndarray, n_classes: int) -> Any:
    if kind == "binary":
        order = np.argsort(scores, kind="stable")
        s, pos = scores[order], y[order] > 0.5
        group = np.concatenate([[0], np.cumsum(s[1:] != s[:-1])])  # ties share a group

        def auc(w: np.ndarray) -> float:
            w = w[order]
            p = np.bincount(group, weights=w * pos)
            q = np.bincount(group, weights=w * ~pos)
            below = np.concatenate([[0.0], np.cumsum(q)[:-1]])
            total = p.sum() * q.sum()
            return float((p * (below + 0.5 * q)).sum() / total) if total > 0 else np.nan

        return auc
    if kind == "value":
        ry = _ranks(y)
        rs = _ranks(scores)

        def spearman(w: np.ndarray) -> float:
            total = w.sum()
            if total <= 0:
                return np.nan
            my, ms = (w * ry).sum() / total, (w * rs).sum() / total
            cov = (w * (ry - my) * (rs - ms)).sum()
            var = np.sqrt((w * (ry - my) ** 2).sum() * (w * (rs - ms) ** 2).sum())
            return float(cov / var) if var > 0 else np.nan

        return spearman
    truth = y.astype(np.int64)
    pred = np.argmax(scores, axis=1)
    k = max(n_classes, int(truth.max()) + 1, scores.shape[1])
    cell = truth * k + pred

    def macro_f1(w: np.ndarray) -> float:
        m = np.bincount(cell, weights=w, minlength=k * k).reshape(k, k)
        tp = np.diag(m)
        denom = m.sum(axis=0) + m.sum(axis=1)
        present = m.sum(axis=1) > 0
        f1 = np.divide(2 * tp, denom, out=np.zeros(k), where=denom > 0)
        return float(f1[present].mean()) if present.any() else np.nan

    return macro_f1


def _ranks(values: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return np.asarray(rankdata(values), dtype=np.float64)


def training_ids(ids: Sequence[Any]) -> dict[str, Any]:
    """A salted digest sample of the training rows' ids, to keep in the metadata."""
    salt = secrets.token_hex(8)
    rng = np.random.default_rng(SEED)
    pick: Sequence[int] = (
        rng.choice(len(ids), min(SAMPLE, len(ids)), replace=False).tolist() if len(ids) else []
    )
    return {
        "salt": salt,
        "rows": len(ids),
        "sample": sorted(_digest(salt, ids[int(i)]) for i in pick),
    }


def training_share(kept: dict[str, Any] | None, ids: Sequence[Any]) -> float | None:
    """The estimated share of ``ids`` that were training rows (None if the version kept no
    sample): hits in the sample, scaled by the sampled fraction of the training rows."""
    if not kept or not kept.get("sample") or not len(ids):
        return None
    sample = set(kept["sample"])
    hits = sum(1 for i in ids if _digest(kept["salt"], i) in sample)
    sampled = len(sample) / max(1, int(kept["rows"]))
    return min(1.0, hits / sampled / len(ids))


def _digest(salt: str, value: Any) -> str:
    return hashlib.blake2b(f"{salt}:{value}".encode(), digest_size=8).hexdigest()
