"""The compiled flat trees (engine.forest) give LightGBM's answer to the last bit, for the
objectives tierline trains and for every kind of value a row can hold; a model they do not
know, or that fails the load-time check against LightGBM (engine.forest_probe), is left
to LightGBM with one log line.

Kept whole (over 400 lines): every case compares the same forest with LightGBM.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numba
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tierline.engine.forest as forest_module
from tests.boosters import small_booster, synthetic_rows
from tests.conftest import Trained
from tierline.engine.forest import Forest, compile_forest
from tierline.engine.forest_probe import checked_forest, probe_rows
from tierline.engine.model import TierModel
from tierline.engine.predictors import SingleRowPredictor
from tierline.engine.registry import Registry

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


def _assert_identical(booster: lgb.Booster, forest: Forest, rows: np.ndarray) -> None:
    expected = np.asarray(booster.predict(rows, num_threads=1))
    for i, row in enumerate(rows):
        got = forest.predict(np.ascontiguousarray(row, dtype=np.float64))
        want = np.atleast_1d(expected[i])
        assert got.tobytes() == want.tobytes(), (i, row, got, want)


IDENTITY_OBJECTIVES = ("regression_l1", "huber", "fair", "quantile", "mape")
BOOSTERS: dict[str, Callable[[], lgb.Booster]] = {
    "multiclass": lambda: small_booster("multiclass"),
    "binary": lambda: small_booster("binary"),
    "tweedie": lambda: small_booster("tweedie", tweedie_variance_power=1.3),
    "regression": lambda: small_booster("regression"),
    "zero-as-missing": lambda: small_booster("binary", zero_as_missing=True),
    "no-missing": lambda: small_booster("regression", use_missing=False),
    "sigmoid-2": lambda: small_booster("binary", sigmoid=2.0),
    **{name: functools.partial(small_booster, name) for name in IDENTITY_OBJECTIVES},
}


@pytest.fixture(scope="module", params=sorted(BOOSTERS))
def pair(request: pytest.FixtureRequest) -> tuple[lgb.Booster, Forest]:
    booster = BOOSTERS[request.param]()
    forest = checked_forest(booster, n_features=booster.num_feature())
    assert isinstance(forest, Forest), forest  # the load-time check passes a good model
    return booster, forest


def test_the_forest_equals_lightgbm_on_its_training_rows_and_on_edge_values(
    pair: tuple[lgb.Booster, Forest],
) -> None:
    """Bit for bit, on 500 ordinary rows and on every edge value in every column."""
    booster, forest = pair
    X, _ = synthetic_rows(500, seed=99)
    edge = np.array([[v] * X.shape[1] for v in EDGE], dtype=np.float64)
    mixed = np.array([np.roll(EDGE, k)[: X.shape[1]] for k in range(len(EDGE))])
    _assert_identical(booster, forest, np.vstack([X, edge, mixed]))


def test_the_rows_loop_gives_the_one_row_loop_answer_on_every_probe_row(
    pair: tuple[lgb.Booster, Forest],
) -> None:
    """``Forest.predict_rows`` (what the load-time check runs) equals ``Forest.predict`` (what
    a decision runs) bit for bit on every probe row, so the check vouches for the served loop."""
    booster, forest = pair
    rows = probe_rows(booster.model_to_string(), n_features=booster.num_feature())
    together = forest.predict_rows(rows)
    for i, row in enumerate(rows):
        assert together[i].tobytes() == forest.predict(row).tobytes(), i


@settings(max_examples=300, deadline=None)
@given(row=st.lists(values, min_size=5, max_size=5))
def test_the_forest_equals_lightgbm_on_any_row(row: list[float]) -> None:
    """Bit for bit on rows mixing every kind of value (a multiclass and a zero-as-missing model)."""
    for booster, forest in _PROPERTY_MODELS:
        _assert_identical(booster, forest, np.array([row], dtype=np.float64))


def _compiled(booster: lgb.Booster) -> tuple[lgb.Booster, Forest]:
    forest = compile_forest(booster.model_to_string(), n_features=booster.num_feature())
    assert isinstance(forest, Forest)
    return booster, forest


_PROPERTY_MODELS = [
    _compiled(small_booster("multiclass", seed=5)),
    _compiled(small_booster("binary", seed=6, zero_as_missing=True)),
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
    assert isinstance(forest, Forest)
    rows = np.array([[a, b] for a in GRID for b in GRID], dtype=np.float64)
    _assert_identical(booster, forest, rows)


def test_models_the_forest_does_not_know_are_left_to_lightgbm() -> None:
    """Linear trees, random-forest averaging, an unknown objective or a feature count that
    does not match: no forest (the caller keeps LightGBM's own prediction)."""
    X, signal = synthetic_rows(600, seed=1)
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
        assert isinstance(compile_forest(booster.model_to_string(), n_features=X.shape[1]), str)
    plain = small_booster("regression")
    assert isinstance(compile_forest(plain.model_to_string(), n_features=4), str)
    assert isinstance(compile_forest("not a model", n_features=5), str)


# -- the load-time check: any doubt leaves the model to LightGBM, logged once -------------


@pytest.fixture(scope="module")
def demo_model(trained: Trained) -> TierModel:
    registry = Registry(trained.models)
    return registry.load(registry.champion() or "")


def _fresh(model: TierModel, booster: lgb.Booster | None = None) -> TierModel:
    """The same model version, not yet warmed, optionally with another booster."""
    return TierModel(
        version=model.version,
        spec=model.spec,
        features=model.features,
        policy=model.policy,
        playbook=model.playbook,
        booster=model.booster if booster is None else booster,
        metadata=model.metadata,
    )


def _warm_twice(model: TierModel, caplog: pytest.LogCaptureFixture) -> list[str]:
    """Warm the model twice and score with it; the WARNING lines its loading logged about
    the one-customer path (the reasons' tables, built from the same forest, log their own)."""
    with caplog.at_level(logging.WARNING, logger="tierline.model"):
        model.warm()
        model.warm()
        model.single_row_predictor().predict(np.zeros(model.features.n_features_out_))
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "tierline.model" and "scores one customer" in r.getMessage()
    ]


def test_a_good_model_serves_from_the_compiled_forest(
    demo_model: TierModel, caplog: pytest.LogCaptureFixture
) -> None:
    """The demo model passes the load-time check: warm leaves the compiled forest serving
    and logs nothing."""
    model = _fresh(demo_model)
    assert _warm_twice(model, caplog) == []
    assert isinstance(model.single_row_predictor(), Forest)


def test_a_threshold_one_ulp_off_is_caught_and_lightgbm_serves(
    demo_model: TierModel, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compiled root threshold one double above the model's is found by the probe rows:
    LightGBM's own call serves and one WARNING line says the forest differs."""
    flatten = forest_module._flatten

    def corrupted(trees: list[dict[str, str]]) -> tuple[np.ndarray, ...]:
        arrays = flatten(trees)
        num_leaves, node_base, node, threshold = arrays[0], arrays[1], arrays[4], arrays[5]
        roots = node_base[(num_leaves > 1) & (node[node_base] & 1 == 0)]
        threshold[roots[0]] = np.nextafter(threshold[roots[0]], np.inf)
        return arrays

    monkeypatch.setattr(forest_module, "_flatten", corrupted)
    model = _fresh(demo_model)
    lines = _warm_twice(model, caplog)
    assert len(lines) == 1 and "differs from LightGBM" in lines[0], lines
    assert isinstance(model.single_row_predictor(), SingleRowPredictor)


def test_a_loop_whose_answer_is_off_in_the_last_bit_is_not_trusted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A compiled loop one ulp away from LightGBM's output fails the check (bit for bit)."""
    kernel, rows_kernel = forest_module._compiled()

    def one_ulp_off(x: np.ndarray, out: np.ndarray, *args: object) -> None:
        kernel(x, out, *args)
        out[0] = np.nextafter(out[0], np.inf)

    def rows_one_ulp_off(rows: np.ndarray, out: np.ndarray, *args: object) -> None:
        rows_kernel(rows, out, *args)
        out[-1, 0] = np.nextafter(out[-1, 0], np.inf)  # the last probe row only

    monkeypatch.setattr(forest_module, "_compiled", lambda: (one_ulp_off, rows_one_ulp_off))
    booster = small_booster("binary")
    assert "differs from LightGBM" in str(checked_forest(booster, n_features=5))


def _numba_typing_error() -> tuple[Callable[..., None], Callable[..., None]]:
    raise numba.core.errors.TypingError("Failed in nopython mode pipeline (step: typing)")


def _failing_run() -> tuple[Callable[..., None], Callable[..., None]]:
    def kernel(*args: object) -> None:
        raise numba.core.errors.NumbaError("the compiled loop failed")

    return kernel, kernel


@pytest.mark.parametrize("seam", [_numba_typing_error, _failing_run], ids=["compile", "run"])
def test_a_numba_error_leaves_the_model_to_lightgbm(
    seam: Callable[[], Callable[..., None]],
    demo_model: TierModel,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A numba error while compiling or running the loop: warm does not fail, LightGBM's
    own call serves and one WARNING line names the error."""
    monkeypatch.setattr(forest_module, "_compiled", seam)
    model = _fresh(demo_model)
    lines = _warm_twice(model, caplog)
    assert len(lines) == 1 and "Error" in lines[0], lines
    assert isinstance(model.single_row_predictor(), SingleRowPredictor)


def _custom_l2(preds: np.ndarray, data: lgb.Dataset) -> tuple[np.ndarray, np.ndarray]:
    return preds - data.get_label(), np.ones_like(preds)


def _without_objective_line(booster: lgb.Booster) -> lgb.Booster:
    text = booster.model_to_string()
    return lgb.Booster(
        model_str="\n".join(line for line in text.splitlines() if not line.startswith("objective="))
    )


# Objectives whose output LightGBM transforms in a way the loop does not compute (or that
# name no transform at all), each with the label kind it trains on.
INEXACT: dict[str, tuple[dict[str, Any], str]] = {
    "regression-sqrt": ({"objective": "regression", "reg_sqrt": True}, "amount"),
    "regression_l1-sqrt": ({"objective": "regression_l1", "reg_sqrt": True}, "amount"),
    "poisson": ({"objective": "poisson"}, "amount"),
    "gamma": ({"objective": "gamma"}, "amount"),
    "cross_entropy": ({"objective": "cross_entropy"}, "flag"),
    "cross_entropy_lambda": ({"objective": "cross_entropy_lambda"}, "flag"),
    "multiclassova": ({"objective": "multiclassova", "num_class": 3}, "class"),
    "custom": ({"objective": _custom_l2}, "amount"),
    "no-objective-line": ({"objective": "regression"}, "amount"),
}


@pytest.mark.parametrize("case", sorted(INEXACT))
def test_objectives_not_computed_exactly_are_left_to_lightgbm(
    case: str, demo_model: TierModel, caplog: pytest.LogCaptureFixture
) -> None:
    """A model whose objective the forest does not compute exactly (or whose text names
    none) is scored by LightGBM's own call, with one WARNING line saying why."""
    params, label_kind = INEXACT[case]
    n = demo_model.features.n_features_out_
    rng = np.random.default_rng(4)
    X = rng.normal(size=(400, n))
    amount = np.exp(X[:, 0]) + 0.1
    label = {
        "amount": amount,
        "flag": (amount > np.median(amount)).astype(float),
        "class": np.digitize(amount, np.quantile(amount, [0.3, 0.7])),
    }[label_kind]
    booster = lgb.train(
        {**params, "verbose": -1, "num_leaves": 7, "num_threads": 1},
        lgb.Dataset(X, label=label),
        num_boost_round=5,
    )
    if case == "no-objective-line":
        booster = _without_objective_line(booster)
    model = _fresh(demo_model, booster)
    lines = _warm_twice(model, caplog)
    assert len(lines) == 1 and "objective" in lines[0], lines
    assert isinstance(model.single_row_predictor(), SingleRowPredictor)
