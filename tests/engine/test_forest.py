"""The compiled flat trees (engine.forest) give LightGBM's answer to the last bit, for the
objectives tierline trains and for every kind of value a row can hold; a model they do not
know is left to LightGBM."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.forest import Forest, compile_forest
from engine.registry import Registry
from tests.conftest import Trained

# Values that take every branch of LightGBM's decisions: missing, zero and values within
# kZeroThreshold of it, negatives, fractions of category codes, codes beyond any bitset,
# values beyond int's range, infinities.
EDGE = [
    np.nan,
    0.0,
    -0.0,
    1e-36,
    -1e-36,
    1.0000000180025095e-35,
    1.0000000180025096e-35,
    -0.5,
    0.5,
    -1.0,
    1.0,
    2.0,
    2.999,
    31.0,
    32.0,
    33.0,
    1000.0,
    2147483647.0,
    2147483648.0,
    -2147483648.0,
    -2147483649.0,
    1e300,
    -1e300,
    np.inf,
    -np.inf,
]

values = st.one_of(
    st.sampled_from(EDGE),
    st.floats(min_value=-50, max_value=50),
    st.integers(min_value=-3, max_value=40).map(float),
)


def _synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows with two categorical columns (codes 0-39, some missing), numbers with missing
    values and many exact zeros."""
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


def _booster(objective: str, *, seed: int = 3, **params: object) -> lgb.Booster:
    X, signal = _synthetic(3000, seed)
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


def _assert_identical(booster: lgb.Booster, forest: Forest, rows: np.ndarray) -> None:
    expected = np.asarray(booster.predict(rows, num_threads=1))
    for i, row in enumerate(rows):
        got = forest.predict(np.ascontiguousarray(row, dtype=np.float64))
        want = np.atleast_1d(expected[i])
        assert got.tobytes() == want.tobytes(), (i, row, got, want)


BOOSTERS = {
    "multiclass": lambda: _booster("multiclass"),
    "binary": lambda: _booster("binary"),
    "tweedie": lambda: _booster("tweedie", tweedie_variance_power=1.3),
    "regression": lambda: _booster("regression"),
    "zero-as-missing": lambda: _booster("binary", zero_as_missing=True),
    "no-missing": lambda: _booster("regression", use_missing=False),
    "sigmoid-2": lambda: _booster("binary", sigmoid=2.0),
}


@pytest.fixture(scope="module", params=sorted(BOOSTERS))
def pair(request: pytest.FixtureRequest) -> tuple[lgb.Booster, Forest]:
    booster = BOOSTERS[request.param]()
    forest = compile_forest(booster.model_to_string(), n_features=booster.num_feature())
    assert forest is not None
    return booster, forest


def test_the_forest_equals_lightgbm_on_its_training_rows_and_on_edge_values(
    pair: tuple[lgb.Booster, Forest],
) -> None:
    """Bit for bit, on 500 ordinary rows and on every edge value in every column."""
    booster, forest = pair
    X, _ = _synthetic(500, seed=99)
    edge = np.array([[v] * X.shape[1] for v in EDGE], dtype=np.float64)
    mixed = np.array([np.roll(EDGE, k)[: X.shape[1]] for k in range(len(EDGE))])
    _assert_identical(booster, forest, np.vstack([X, edge, mixed]))


@settings(max_examples=300, deadline=None)
@given(row=st.lists(values, min_size=5, max_size=5))
def test_the_forest_equals_lightgbm_on_any_row(row: list[float]) -> None:
    """Bit for bit on rows mixing every kind of value (a multiclass and a zero-as-missing model)."""
    for booster, forest in _PROPERTY_MODELS:
        _assert_identical(booster, forest, np.array([row], dtype=np.float64))


def _compiled(booster: lgb.Booster) -> tuple[lgb.Booster, Forest]:
    forest = compile_forest(booster.model_to_string(), n_features=booster.num_feature())
    assert forest is not None
    return booster, forest


_PROPERTY_MODELS = [
    _compiled(_booster("multiclass", seed=5)),
    _compiled(_booster("binary", seed=6, zero_as_missing=True)),
]


def test_the_trained_tier_model_scores_alone_as_lightgbm_scores_the_batch(
    trained: Trained,
) -> None:
    """The registry's model uses the forest for one customer, and its output for each of 400
    demo customers is LightGBM's batch output, bit for bit."""
    registry = Registry(trained.models)
    model = registry.load(registry.champion() or "")
    forest = model.single_row_predictor()
    assert isinstance(forest, Forest)
    frame = pd.read_csv(trained.data, nrows=400)
    X = model.features.transform(frame)
    _assert_identical(model.booster, forest, X)


# One tree, written out: a numerical split on feature 1, then a categorical split on
# feature 0 (two 32-bit words of categories), so each decision rule can be set by hand.
_ONE_TREE = """tree
version=v4
num_class=1
num_tree_per_iteration=1
label_index=0
max_feature_idx=1
objective=regression
feature_names=Column_0 Column_1
feature_infos=0:1:2 [-3:3]
tree_sizes=400

Tree=0
num_leaves=3
num_cat=1
split_feature=1 0
split_gain=79.9 42.7
threshold={threshold} 0
decision_type={numerical} {categorical}
left_child=1 -1
right_child=-2 -3
leaf_value=0.25 0.5 0.75
leaf_weight=77 185 138
leaf_count=77 185 138
internal_value=0.7 0.7
internal_weight=400 215
internal_count=400 215
cat_boundaries=0 2
cat_threshold={words}
is_linear=0
shrinkage=1


end of trees
"""

GRID = [*EDGE, -3.0, -2.0, -1.5, 3.0, 31.5, 63.0, 64.0, 65.0]


@pytest.mark.parametrize("threshold", ["1e-37", "0", "-1e-37", "1.0000000180025095e-35", "-2.5"])
@pytest.mark.parametrize("numerical", [0, 2, 4, 6, 8, 10])
@pytest.mark.parametrize("categorical", [1, 5, 9])
def test_each_decision_rule_is_lightgbms(threshold: str, numerical: int, categorical: int) -> None:
    """Every missing-value rule (none, zero, NaN; default left or right) and categorical rule,
    with thresholds inside kZeroThreshold and category words whose top bit is set, sends
    every value of a grid where LightGBM sends it."""
    text = _ONE_TREE.format(
        threshold=threshold,
        numerical=numerical,
        categorical=categorical,
        words="2147483649 3758096386",  # categories 0, 31, 33, 61, 62, 63
    )
    booster = lgb.Booster(model_str=text)
    forest = compile_forest(text, n_features=2)
    assert forest is not None
    rows = np.array([[a, b] for a in GRID for b in GRID], dtype=np.float64)
    _assert_identical(booster, forest, rows)


def test_models_the_forest_does_not_know_are_left_to_lightgbm() -> None:
    """Linear trees, random-forest averaging, an unknown objective or a feature count that
    does not match: no forest (the caller keeps LightGBM's own prediction)."""
    X, signal = _synthetic(600, seed=1)
    base = {"verbose": -1, "num_leaves": 7, "min_data_in_leaf": 5, "num_threads": 1}
    linear = lgb.train(
        {**base, "objective": "regression", "linear_tree": True},
        lgb.Dataset(np.nan_to_num(X), label=signal),
        num_boost_round=5,
    )
    forest_mode = lgb.train(
        {
            **base,
            "objective": "regression",
            "boosting": "rf",
            "bagging_fraction": 0.5,
            "bagging_freq": 1,
        },
        lgb.Dataset(X, label=signal),
        num_boost_round=5,
    )
    ranked = lgb.train(
        {**base, "objective": "cross_entropy"},
        lgb.Dataset(X, label=(signal > 0).astype(float)),
        num_boost_round=5,
    )
    for booster in (linear, forest_mode, ranked):
        assert compile_forest(booster.model_to_string(), n_features=X.shape[1]) is None
    plain = _booster("regression")
    assert compile_forest(plain.model_to_string(), n_features=4) is None
    assert compile_forest("not a model", n_features=5) is None
