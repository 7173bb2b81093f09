"""Small LightGBM models on synthetic rows that take every kind of split (categorical codes,
missing values, exact zeros), for the tests of code that re-implements LightGBM's."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np

__all__ = ["small_booster", "synthetic_rows"]


def synthetic_rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of five features: two categorical columns (codes 0-39, some missing), numbers
    with missing values and many exact zeros; and a signal to learn from them."""
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [
            rng.integers(0, 40, n).astype(float),
            rng.integers(0, 6, n).astype(float),
            rng.normal(size=n),
            rng.exponential(size=n) * (rng.random(n) < 0.6),  # 40% zeros
            rng.normal(size=n),
        ]
    )
    X[rng.random(n) < 0.1, 0] = np.nan
    X[rng.random(n) < 0.15, 2] = np.nan
    X[rng.random(n) < 0.1, 4] = np.nan
    signal = (X[:, 0] % 7 == 0) * 2.0 + np.nan_to_num(X[:, 2]) + X[:, 3] - (X[:, 1] == 3)
    return X, signal


def small_booster(objective: str, *, seed: int = 3, **params: object) -> lgb.Booster:
    """40 rounds of 15-leaf trees for ``objective`` (multiclass: 3 classes) on 3,000 rows."""
    X, signal = synthetic_rows(3000, seed)
    if objective == "multiclass":
        label = np.digitize(signal, np.quantile(signal, [0.3, 0.8]))
        params.update(num_class=3)
    elif objective == "binary":
        label = (signal > np.median(signal)).astype(float)
    else:
        label = np.exp(signal / 3)
    data = lgb.Dataset(X, label=label, categorical_feature=[0, 1], free_raw_data=False)
    return lgb.train(
        {
            "objective": objective,
            "num_leaves": 15,
            "min_data_in_leaf": 5,
            "max_cat_to_onehot": 4,
            "verbose": -1,
            "seed": seed,
            "num_threads": 1,
            **params,
        },
        data,
        num_boost_round=40,
    )
