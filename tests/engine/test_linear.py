"""The linear model served beside LightGBM: its inputs, outputs and exact contributions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import Trained
from tierline.engine.linear import LinearModel, LinearPlan


def _matrix(n: int = 400, seed: int = 0) -> np.ndarray:
    """Two categorical code columns (one with missing values) and three numbers."""
    rng = np.random.default_rng(seed)
    cats = rng.integers(0, 4, (n, 2)).astype(np.float64)
    cats[rng.random(n) < 0.1, 1] = np.nan
    nums = rng.normal(size=(n, 3))
    nums[rng.random(n) < 0.2, 0] = np.nan
    return np.hstack([cats, nums])


def _model(kind: str, outputs: int) -> tuple[LinearModel, np.ndarray]:
    X = _matrix()
    plan = LinearPlan.fit(X, n_cat=2)
    rng = np.random.default_rng(1)
    width = sum(plan.widths)
    coef = rng.normal(size=(outputs, width))
    return LinearModel.from_fit(
        kind=kind, plan=plan, coef=coef, intercept=rng.normal(size=outputs), X=X
    ), X


def test_the_plan_gives_levels_standard_scores_and_missing_flags() -> None:
    """Frequent codes get an input each, missing a level of its own when frequent, numbers
    are standardized with the training figures and 0 when missing, with a flag."""
    X = _matrix()
    plan = LinearPlan.fit(X, n_cat=2)
    assert plan.levels == ((0, 1, 2, 3), (0, 1, 2, 3))
    assert plan.missing_level == (False, True) and plan.missing_flag == (True, False, False)
    row = np.array([[2.0, np.nan, np.nan, 1.0, -1.0]])
    design = plan.design(row)[0]
    assert list(design[:4]) == [0, 0, 1, 0] and list(design[4:9]) == [0, 0, 0, 0, 1]
    assert list(design[9:11]) == [0, 1]  # the first number: missing -> 0 and its flag
    assert design[11] == pytest.approx((1.0 - plan.mean[1]) / plan.scale[1])
    unseen = plan.design(np.array([[9.0, 7.0, 0.0, 0.0, 0.0]]))[0]
    assert unseen[:9].sum() == 0  # an unseen code adds nothing


@pytest.mark.parametrize(("kind", "outputs"), [("binary", 1), ("value", 1), ("class", 3)])
def test_contributions_add_up_to_the_raw_output(kind: str, outputs: int) -> None:
    """Per column contributions plus the bias equal the raw output, in pred_contrib's
    layout (one block of columns + bias per class), and average zero on training rows."""
    model, X = _model(kind, outputs)
    contrib = model.contributions(X)
    f = len(model.plan.widths)
    assert contrib.shape == (len(X), outputs * (f + 1))
    raw = model.raw(X)
    for k in range(outputs):
        block = contrib[:, k * (f + 1) : (k + 1) * (f + 1)]
        assert np.allclose(block.sum(axis=1), raw[:, k])
        assert np.allclose(block[:, :f].mean(axis=0), 0.0)


@pytest.mark.parametrize(("kind", "outputs"), [("binary", 1), ("value", 1), ("class", 3)])
def test_outputs_follow_the_kind_and_survive_json(kind: str, outputs: int) -> None:
    """Binary outputs are the logistic of the raw output, class outputs a softmax, values the
    raw output; the JSON round trip predicts the same numbers bit for bit."""
    model, X = _model(kind, outputs)
    out = model.predict(X)
    raw = model.raw(X)
    if kind == "binary":
        assert np.allclose(out, 1 / (1 + np.exp(-raw[:, 0])))
    elif kind == "class":
        assert out.shape == (len(X), 3) and np.allclose(out.sum(axis=1), 1.0)
        assert (out.argmax(axis=1) == raw.argmax(axis=1)).all()
    else:
        assert np.array_equal(out, raw[:, 0])
    again = LinearModel.from_json(json.loads(json.dumps(model.to_json())))
    assert np.array_equal(again.predict(X), out)
    assert np.array_equal(again.contributions(X), model.contributions(X))


def test_a_signal_the_model_does_not_read_is_never_a_reason(trained: Trained) -> None:
    """A model whose only input is one signal explains every customer with that signal
    alone: signals with no effect are not listed as raising anything."""
    from tierline.engine.model import TierModel
    from tierline.engine.registry import Registry

    base = Registry(trained.models).load()
    X = base.features.transform_record({"visits_90d": 3})[None, :]
    plan = LinearPlan.fit(np.repeat(X, 30, axis=0), n_cat=len(base.spec.categorical))
    coef = np.zeros((3, sum(plan.widths)))
    position = list(base.features.feature_names_out_).index("visits_90d")
    start = int(np.cumsum([0, *plan.widths])[position])
    coef[0, start] = 1.0
    rows = np.repeat(X, 30, axis=0)
    rows[:, position] = np.arange(30)
    linear = LinearModel.from_fit(
        kind="class", plan=LinearPlan.fit(rows, n_cat=plan.n_cat), coef=coef,
        intercept=np.zeros(3), X=rows,
    )  # fmt: skip
    model = TierModel(
        version="v-test", spec=base.spec, features=base.features, policy=base.policy,
        playbook=base.playbook, booster=None, linear=linear, metadata={},
    )  # fmt: skip
    scored = model.score_record({"visits_90d": 29, "campaign": "spring"}, explain=True)
    assert [r.feature for r in scored.reasons] == ["visits_90d"]
