"""The yardsticks every model is measured against, on the same held-out customers.

1. Hard rules, then the majority tier (class) or one constant score for everybody
   (binary / value): what a business gets without a model.
2. For a transaction log (binary / value): the fitted BG/NBD and Gamma-Gamma expectations
   (``training.btyd``), the classic buy-till-you-die ranking, as "bg/nbd".
3. A linear model on the same features (logistic regression, or ridge for amounts):
   one-hot categories, scaled numbers, missing flags. It is fitted on a sample of at most
   ``BASELINE_MAX_ROWS`` training rows: a linear model on ~25 signals has settled long
   before that, and a yardstick must not cost a large share of training's time.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from tierline.engine.spec import Spec
from tierline.engine.tiers import TierPolicy
from tierline.training.evaluate import measure
from tierline.training.prepare import Prepared

__all__ = ["BASELINE_MAX_ROWS", "fit_baselines"]

BASELINE_MAX_ROWS = 20_000
SEED = 42


def fit_baselines(
    *,
    spec: Spec,
    prep: Prepared,
    X: dict[str, np.ndarray],
    n_cat: int,
    scores: dict[str, np.ndarray] | None = None,
) -> dict[str, dict[str, Any]]:
    """The rule-only/majority baseline and a linear model on the same features.

    ``scores``, when given, receives each baseline's test scores by name (as the model's:
    class probabilities, the positive probability or the amount), for the report's curves.
    """
    kept: dict[str, np.ndarray] = {} if scores is None else scores
    train, test = prep.train_idx, prep.test_idx
    test_frame = prep.frame.iloc[test]
    y_train = prep.y[train]
    base_policy = TierPolicy.from_spec(spec)
    out: dict[str, dict[str, Any]] = {}

    # 1. Rules, then the majority tier (class) or a constant score (binary / value).
    if spec.target_kind == "class":
        majority = np.bincount(y_train.astype(np.int64), minlength=len(spec.tiers)).argmax()
        const = np.zeros((len(test), len(spec.tiers)))
        const[:, majority] = 1.0
        # A constant is no probability model; the floor must not override it.
        rule_policy = dataclasses.replace(base_policy, min_confidence=0.0)
        d = rule_policy.place_many(scores=const, frame=test_frame)
        out["rules+majority"] = measure(
            spec, y_true=prep.labels[test], tier_pred=d["tier"], scores=None
        )
        # The tiers it gives are its only ranking: one-hot, in the model's score layout.
        given = pd.Categorical(d["tier"], categories=list(spec.tiers)).codes
        kept["rules+majority"] = np.eye(len(spec.tiers))[given]
    else:
        const_score = np.full(len(test), float(np.mean(y_train)))
        # A constant ranks nobody above anybody: no cut applies, everyone not decided by a
        # rule gets the default tier (cut thresholds would tie and put everyone on top).
        d = base_policy.place_many(scores=const_score, frame=test_frame)
        out["rules+constant"] = measure(
            spec, y_true=prep.y[test], tier_pred=d["tier"], scores=const_score
        )
        kept["rules+constant"] = const_score
        if prep.btyd is not None:
            out["bg/nbd"] = _btyd_baseline(spec, prep=prep, policy=base_policy, kept=kept)

    # 3. A linear model on the same features (one-hot categories, scaled numbers).
    rng = np.random.default_rng(SEED)
    sel = np.arange(len(train))
    if len(train) > BASELINE_MAX_ROWS:
        sel = np.sort(rng.choice(len(train), BASELINE_MAX_ROWS, replace=False))
    Xs = X["train"][sel]
    linear = _linear_model(spec, n_cat, Xs.shape[1])
    ys = prep.y[train[sel]]
    name = "logistic" if spec.target_kind != "value" else "linear"
    target = ys if spec.target_kind != "class" else ys.astype(np.int64)
    try:
        # One thread for BLAS and OpenMP: on busy cores their spinning workers make this
        # small fit many times slower than one thread does.
        with threadpool_limits(limits=1):
            linear.fit(_linear_input(Xs, n_cat), target)
    except ValueError as exc:
        out[name] = {"error": str(exc)}
        return out
    if spec.target_kind == "class":
        probs = np.zeros((len(test), len(spec.tiers)))
        probs[:, linear.classes_.astype(np.int64)] = _predict(
            linear.predict_proba, X["test"], n_cat
        )
        d = base_policy.place_many(scores=probs, frame=test_frame)
        out[name] = measure(spec, y_true=prep.labels[test], tier_pred=d["tier"], scores=probs)
        kept[name] = probs
    else:
        if spec.target_kind == "binary":
            s_test = _predict(linear.predict_proba, X["test"], n_cat)[:, 1]
            s_train = _predict(linear.predict_proba, Xs, n_cat)[:, 1]
        else:
            s_test, s_train = (
                _predict(linear.predict, X["test"], n_cat),
                _predict(linear.predict, Xs, n_cat),
            )
        pol = base_policy.fit_thresholds(spec=spec, train_scores=s_train)  # the sample stands in
        d = pol.place_many(scores=s_test, frame=test_frame)
        out[name] = measure(spec, y_true=prep.y[test], tier_pred=d["tier"], scores=s_test)
        kept[name] = s_test
    return out


def _btyd_baseline(
    spec: Spec, *, prep: Prepared, policy: TierPolicy, kept: dict[str, np.ndarray]
) -> dict[str, Any]:
    """The classic buy-till-you-die ranking of a transaction log, with the model's cuts.

    Value: BG/NBD expected purchases in the horizon times Gamma-Gamma expected spend.
    Binary: 1 - exp(-expected purchases), a Poisson reading of P(buys at all); a monotone
    map, so the ranking is BG/NBD's own.
    """
    frame = prep.frame
    if spec.target_kind == "value":
        score = frame["btyd_value"].to_numpy(dtype=np.float64)
    else:
        score = -np.expm1(-frame["bgnbd_purchases"].to_numpy(dtype=np.float64))
    score = np.nan_to_num(score)
    fitted = policy.fit_thresholds(spec=spec, train_scores=score[prep.train_idx])
    test = prep.test_idx
    d = fitted.place_many(scores=score[test], frame=frame.iloc[test])
    kept["bg/nbd"] = score[test]
    return measure(spec, y_true=prep.y[test], tier_pred=d["tier"], scores=score[test])


def _predict(method: Any, X: np.ndarray, n_cat: int, *, chunk: int = 50_000) -> np.ndarray:
    """``method`` over ``X`` in chunks: the one-hot copy of a whole test set would raise
    training's peak memory by a third on a million customers (measured)."""
    parts = [method(_linear_input(X[i : i + chunk], n_cat)) for i in range(0, len(X), chunk)]
    return np.concatenate(parts) if parts else np.empty(0)


def _linear_input(X: np.ndarray, n_cat: int) -> np.ndarray:
    """Missing categories become their own code (-1), missing numbers the column's 0 plus a flag."""
    cats = np.where(np.isnan(X[:, :n_cat]), -1.0, X[:, :n_cat])
    nums = X[:, n_cat:]
    missing = np.isnan(nums).astype(np.float64)
    return np.hstack([cats, np.nan_to_num(nums, nan=0.0), missing])


def _linear_model(spec: Spec, n_cat: int, n_features: int) -> Any:
    n_num = n_features - n_cat
    pre = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=20), list(range(n_cat))),
            ("num", StandardScaler(), list(range(n_cat, n_cat + 2 * n_num))),
        ]
    )
    if spec.target_kind == "value":
        return make_pipeline(pre, Ridge(alpha=1.0))
    return make_pipeline(pre, LogisticRegression(max_iter=300))
