"""LightGBM as training uses it: the parameters for a spec's target kind, the features'
names in LightGBM's form, and one plain fit with early stopping (the model search's tree
candidates vary these settings: ``training.candidates``).
"""

from __future__ import annotations

import os
import re
from typing import Any

import lightgbm as lgb
import numpy as np

from tierline.engine.spec import Spec
from tierline.training.prepare import SEED

__all__ = ["fit_booster", "lgb_names", "lgb_params"]


def lgb_params(
    spec: Spec, *, rows: int | None = None, threads: int | None = None
) -> dict[str, Any]:
    """LightGBM parameters for a spec's target kind; fixed seeds for repeatable models."""
    params: dict[str, Any] = {
        "learning_rate": 0.08,
        "num_leaves": 31,
        # 40 customers per leaf; fewer on a small export so the trees can still split.
        "min_data_in_leaf": 40 if rows is None else int(min(40, max(3, rows // 10))),
        "feature_fraction": 0.9,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "max_cat_to_onehot": 8,
        "cat_smooth": 10.0,
        "seed": SEED,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": threads or os.cpu_count() or 1,
        "verbose": -1,
    }
    if spec.target_kind == "class":
        params.update(objective="multiclass", num_class=len(spec.tiers), metric="multi_logloss")
    elif spec.target_kind == "binary":
        params.update(objective="binary", metric="binary_logloss")
    else:
        params.update(objective="tweedie", tweedie_variance_power=1.3, metric="tweedie")
    return params


def lgb_names(names: list[str]) -> list[str]:
    """The features' names as LightGBM takes them: it refuses some characters, so each is
    numbered and tidied (the real names are kept in features.json)."""
    return [f"f{i}_{re.sub(r'[^0-9A-Za-z_]', '_', n)}"[:60] for i, n in enumerate(names)]


def fit_booster(
    *,
    spec: Spec,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_valid: np.ndarray,
    y_valid: np.ndarray,
    names: list[str],
    threads: int | None = None,
) -> lgb.Booster:
    """One LightGBM fit with ``lgb_params``, early stopping on the validation rows."""
    params = lgb_params(spec, rows=len(X_train), threads=threads)
    cat_idx = list(range(len(spec.categorical)))
    dtrain = lgb.Dataset(
        X_train,
        y_train,
        feature_name=lgb_names(names),
        categorical_feature=cat_idx,
        free_raw_data=True,
    )
    dvalid = lgb.Dataset(X_valid, y_valid, reference=dtrain)
    return lgb.train(
        params,
        dtrain,
        num_boost_round=2000,
        valid_sets=[dvalid],
        callbacks=[lgb.early_stopping(50, verbose=False)],
    )
