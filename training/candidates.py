"""The candidates of the model search (``training.selection``) and how each is fitted:

* ``lightgbm``: the default settings;
* ``regularized``: fewer, larger leaves, stronger L2, feature and bagging fractions;
* ``shallow``: depth-3 trees with large leaves and strong L2;
* ``additive``: trees that each read one signal (``interaction_constraints``), an additive
  model that cannot learn interactions that may not last;
* ``linear``: a regularized linear model on the same features (``engine.linear``: one-hot
  categories, standardized numbers, missing flags), served from JSON coefficients;
* ``bg/nbd`` (transaction logs, binary or value targets): the classic buy-till-you-die
  expectation alone (``training.btyd``), rescaled on the training rows and served as a
  linear model on that one feature, so the classic ranking serves where it does best.

Monotone directions declared in the spec (``[features] monotone``) bind every candidate:
LightGBM's monotone constraints for the trees, and for the linear model a slope of the
wrong sign is set to zero. LightGBM's
``linear_tree`` is not a candidate: LightGBM cannot explain its predictions
(``pred_contrib``), and every decision carries its reasons.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge
from threadpoolctl import threadpool_limits

from tierline.engine.linear import LinearModel, LinearPlan
from tierline.engine.spec import Spec

__all__ = [
    "BTYD_CANDIDATE",
    "CANDIDATES",
    "LINEAR_MAX_ROWS",
    "SEED",
    "BestRound",
    "Candidate",
    "fit_btyd",
    "fit_linear",
    "fit_tree",
    "fit_tree_dask",
    "monotone_directions",
    "tree_settings",
]

LINEAR_MAX_ROWS = 200_000
SEED = 42


def tree_settings(rows: int, n_features: int) -> dict[str, dict[str, Any]]:
    leaf = max(3, rows // 200)
    return {
        "lightgbm": {},
        "regularized": {
            "num_leaves": 15,
            "min_data_in_leaf": max(20, leaf),
            "lambda_l2": 10.0,
            "feature_fraction": 0.7,
            "bagging_fraction": 0.7,
        },
        "shallow": {
            "num_leaves": 7,
            "max_depth": 3,
            "min_data_in_leaf": max(40, 2 * leaf),
            "lambda_l2": 20.0,
            "feature_fraction": 0.6,
        },
        "additive": {
            "num_leaves": 6,
            "min_data_in_leaf": max(20, leaf),
            "lambda_l2": 10.0,
            "learning_rate": 0.05,
            "interaction_constraints": [[i] for i in range(n_features)],
        },
    }


CANDIDATES = ("lightgbm", "regularized", "shallow", "additive", "linear")
# Added after the others for a transaction log (binary or value target).
BTYD_CANDIDATE = "bg/nbd"


@dataclass
class Candidate:
    """One fitted candidate and its figures."""

    name: str
    model: lgb.Booster | LinearModel | None
    valid: float | None = None
    test: float | None = None
    seconds: float = 0.0
    best_iteration: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    stopped_at_budget: bool = False
    # Its predictions on the validation and test rows, kept so that calibration and
    # evaluation read the winner's instead of predicting the same rows again.
    scores: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "valid": self.valid,
            "test": self.test,
            "seconds": round(self.seconds, 2),
            "best_iteration": self.best_iteration,
            "params": self.params,
            **({"error": self.error} if self.error else {}),
            **({"stopped_at_budget": True} if self.stopped_at_budget else {}),
        }


def _tree_params(
    base: dict[str, Any], changes: dict[str, Any], monotone: list[int] | None, threads: int
) -> dict[str, Any]:
    params = {**base, **changes, "num_threads": threads}
    if monotone is not None:
        params["monotone_constraints"] = monotone
        params["monotone_constraints_method"] = "advanced"
    return params


def _shown(changes: dict[str, Any]) -> dict[str, Any]:
    shown = {k: v for k, v in changes.items() if k != "interaction_constraints"}
    if "interaction_constraints" in changes:
        shown["interaction_constraints"] = "one signal per tree"
    return shown


def fit_tree_dask(
    client: Any,
    name: str,
    base: dict[str, Any],
    changes: dict[str, Any],
    monotone: list[int] | None,
    X: dict[str, np.ndarray],
    y: dict[str, np.ndarray],
    spec: Spec,
    lgb_names: list[str],
) -> Candidate:
    from tierline.training.distributed import fit_tree

    if "interaction_constraints" in changes:
        # LightGBM's distributed learner fails on interaction constraints
        # (lightgbm-org/LightGBM#5680): say so at once rather than after a failed fit.
        raise ValueError(
            "not tried on Dask: LightGBM's distributed learner cannot keep interaction constraints"
        )
    booster, best = fit_tree(
        client,
        params=_tree_params(base, changes, monotone, 1),
        X=X,
        y=y,
        lgb_names=lgb_names,
        n_cat=len(spec.categorical),
    )
    return Candidate(name=name, model=booster, best_iteration=best, params=_shown(changes))


def fit_tree(
    name: str,
    base: dict[str, Any],
    changes: dict[str, Any],
    monotone: list[int] | None,
    X: dict[str, np.ndarray],
    y: dict[str, np.ndarray],
    spec: Spec,
    lgb_names: list[str],
    threads: int,
    deadline: float | None = None,
) -> Candidate:
    params = _tree_params(base, changes, monotone, threads)
    dtrain = lgb.Dataset(
        X["train"],
        y["train"],
        feature_name=lgb_names,
        categorical_feature=list(range(len(spec.categorical))),
        free_raw_data=False,
    )
    dvalid = lgb.Dataset(X["valid"], y["valid"], reference=dtrain)
    watch = BestRound(deadline)
    booster = lgb.train(
        params,
        dtrain,
        num_boost_round=2000,
        valid_sets=[dvalid],
        callbacks=[lgb.early_stopping(50, verbose=False), watch],
    )
    best = booster.best_iteration or booster.current_iteration()
    scores = watch.valid_scores(booster, best, X["valid"])
    booster.free_dataset()
    return Candidate(
        name=name,
        model=booster,
        best_iteration=best,
        params=_shown(changes),
        stopped_at_budget=watch.stopped,
        scores={} if scores is None else {"valid": scores},
    )


class BestRound:
    """A LightGBM callback that keeps the validation slice's predictions at the best round
    so far (boosting computes them anyway, so the winner need not predict those rows
    again) and ends boosting once the search's time is up, keeping that round."""

    def __init__(self, at: float | None) -> None:
        self.at = at
        self.stopped = False
        self.best: tuple[int, list[Any]] = (0, [])
        self.kept: np.ndarray | None = None

    def __call__(self, env: Any) -> None:
        scores = env.evaluation_result_list or []
        if not self.best[1] or _better(scores, self.best[1]):
            self.best = (env.iteration, scores)
            self.kept = _inner_valid_predictions(env.model)
        if self.at is not None and time.perf_counter() > self.at:
            self.stopped = True
            raise lgb.callback.EarlyStopException(*self.best)

    def valid_scores(self, booster: lgb.Booster, best: int, X: np.ndarray) -> np.ndarray | None:
        """The kept predictions when they are those of ``best`` rounds and agree with
        ``Booster.predict`` on a sample of rows; None (predict them all) otherwise."""
        kept = self.kept
        if kept is None or self.best[0] + 1 != best or len(kept) != len(X):
            return None
        rows = np.random.default_rng(SEED).choice(len(X), min(len(X), 256), replace=False)
        sample = booster.predict(X[rows], num_iteration=best)
        if not np.allclose(kept[rows], sample, rtol=1e-9, atol=1e-12):
            return None
        return kept


def _inner_valid_predictions(booster: lgb.Booster) -> np.ndarray | None:
    """The first validation set's predictions as boosting holds them (transformed by the
    objective, as ``predict`` gives them), copied; None if this LightGBM has no such call."""
    inner = getattr(booster, "_Booster__inner_predict", None)
    if inner is None:
        return None
    try:
        return np.array(inner(data_idx=1), dtype=np.float64, copy=True)
    except (TypeError, ValueError, lgb.basic.LightGBMError):
        return None


def _better(now: list[Any], best: list[Any]) -> bool:
    """The first validation metric improved (LightGBM's tuples: data, metric, value,
    higher_is_better)."""
    value, best_value, higher = now[0][2], best[0][2], now[0][3]
    return bool(value > best_value if higher else value < best_value)


def fit_linear(
    spec: Spec, X: dict[str, np.ndarray], y: dict[str, np.ndarray], names: list[str]
) -> Candidate:
    rows = X["train"]
    target = y["train"]
    if len(rows) > LINEAR_MAX_ROWS:
        pick = np.sort(
            np.random.default_rng(SEED).choice(len(rows), LINEAR_MAX_ROWS, replace=False)
        )
        rows, target = rows[pick], target[pick]
    plan = LinearPlan.fit(rows, n_cat=len(spec.categorical))
    design = plan.design(rows)
    kind = spec.target_kind
    with threadpool_limits(limits=1):
        if kind == "value":
            reg = Ridge(alpha=1.0).fit(design, target)
            coef, intercept = np.atleast_2d(reg.coef_), np.atleast_1d(reg.intercept_)
        else:
            labels = target.astype(np.int64) if kind == "class" else target
            clf = LogisticRegression(C=1.0, max_iter=500).fit(design, labels)
            coef, intercept = clf.coef_, clf.intercept_
            if kind == "class":
                coef, intercept = _all_classes(clf.classes_, coef, intercept, len(spec.tiers))
    coef = _clamped(coef, plan, monotone_directions(spec, names))
    model = LinearModel.from_fit(kind=kind, plan=plan, coef=coef, intercept=intercept, X=rows)
    return Candidate(name="linear", model=model, params={"penalty": "l2", "C": 1.0})


def _clamped(coef: np.ndarray, plan: LinearPlan, monotone: list[int] | None) -> np.ndarray:
    """A declared direction holds for the linear model too: a slope of the other sign is
    set to zero (the signal then does not move the score)."""
    if monotone is None:
        return coef
    coef = coef.copy()
    starts = np.cumsum([0, *plan.widths])
    for column, direction in enumerate(monotone):
        if direction and column >= plan.n_cat:
            slope = coef[:, starts[column]]
            coef[:, starts[column]] = np.where(slope * direction < 0, 0.0, slope)
    return coef


def fit_btyd(
    spec: Spec, X: dict[str, np.ndarray], y: dict[str, np.ndarray], names: list[str]
) -> Candidate | None:
    """The BG/NBD candidate: its expectation, rescaled by a one-feature fit (value: least
    squares of the amount; binary: a logistic regression on expected purchases). None
    where it does not apply (no transaction log, a class target)."""
    feature = {"value": "btyd_value", "binary": "bgnbd_purchases"}.get(spec.target_kind)
    if feature is None or feature not in names:
        return None
    t0 = time.perf_counter()
    rows = X["train"]
    plan = LinearPlan.fit(rows, n_cat=len(spec.categorical))
    column = plan.widths[: names.index(feature)]
    at = int(sum(column))  # the feature's standardized input in the design
    z = plan.design(rows)[:, at]
    coef = np.zeros((1, sum(plan.widths)))
    if spec.target_kind == "value":
        slope = float(np.dot(z - z.mean(), y["train"] - y["train"].mean()) / max(z @ z, 1e-12))
        intercept = np.array([float(y["train"].mean() - slope * z.mean())])
    else:
        with threadpool_limits(limits=1):
            clf = LogisticRegression(max_iter=500).fit(z[:, None], y["train"])
        slope, intercept = float(clf.coef_[0, 0]), clf.intercept_
    if not slope > 0:
        # A classic expectation that does not rise with the outcome is no candidate.
        return Candidate(name=BTYD_CANDIDATE, model=None, error="no positive relation")
    coef[0, at] = slope
    model = LinearModel.from_fit(
        kind=spec.target_kind, plan=plan, coef=coef, intercept=intercept, X=rows
    )
    cand = Candidate(name=BTYD_CANDIDATE, model=model, params={"feature": feature})
    cand.seconds = time.perf_counter() - t0
    return cand


def _all_classes(
    classes: np.ndarray, coef: np.ndarray, intercept: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """One row per tier, a tier absent from training never predicted."""
    full_coef = np.zeros((k, coef.shape[1]))
    full_intercept = np.full(k, -30.0)
    if len(classes) == 2 and coef.shape[0] == 1:  # sklearn's binary layout
        coef = np.vstack([-coef / 2, coef / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    for row, cls in enumerate(classes.astype(np.int64)):
        full_coef[cls] = coef[row]
        full_intercept[cls] = intercept[row]
    return full_coef, full_intercept


def monotone_directions(spec: Spec, names: list[str]) -> list[int] | None:
    if not spec.monotone:
        return None
    return [int(spec.monotone.get(n, 0)) for n in names]
