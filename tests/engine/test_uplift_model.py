"""The uplift model's arithmetic for both learners, one row and many, and its artifact files."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from tierline.engine.errors import ArtifactError
from tierline.engine.treatment import TreatmentSpec
from tierline.engine.uplift_model import UpliftModel, arm_codes, uplift_columns

TREATMENT = TreatmentSpec(column="perk", control="none_given", cost={"b": 0.5}, value=10.0)
RNG = np.random.default_rng(4)
X = RNG.normal(size=(400, 3))
ARM = RNG.integers(0, 3, 400)
Y = (RNG.random(400) < 1 / (1 + np.exp(-(X[:, 0] * (ARM == 1) - X[:, 1] * (ARM == 2))))).astype(
    float
)
PARAMS = {"objective": "binary", "verbose": -1, "num_threads": 1, "min_data_in_leaf": 5}


def _booster(X: np.ndarray, y: np.ndarray) -> lgb.Booster:
    return lgb.train(PARAMS, lgb.Dataset(X, y), num_boost_round=15)


def _models() -> dict[str, UpliftModel]:
    s = _booster(np.column_stack([X, ARM]), Y)
    groups = [np.equal(ARM, g) for g in range(3)]
    t = tuple(_booster(X[rows], Y[rows]) for rows in groups)
    return {
        "s": UpliftModel(treatment=TREATMENT, arms=("a", "b"), learner="s", boosters=(s,)),
        "t": UpliftModel(treatment=TREATMENT, arms=("a", "b"), learner="t", boosters=t),
    }


@pytest.mark.parametrize("learner", ["s", "t"])
def test_uplift_is_each_arms_prediction_less_the_controls(learner: str) -> None:
    """S: f(x, j) - f(x, 0); T: f_j(x) - f_0(x); one row gives what the batch gives."""
    model = _models()[learner]
    lift = model.predict_uplift(X[:20])
    for j in (1, 2):
        if learner == "s":
            f = model.boosters[0]
            expected = f.predict(np.column_stack([X[:20], np.full(20, j)])) - f.predict(
                np.column_stack([X[:20], np.zeros(20)])
            )
        else:
            expected = model.boosters[j].predict(X[:20]) - model.boosters[0].predict(X[:20])
        np.testing.assert_allclose(lift[:, j - 1], expected)
    predictors = [lambda r, b=b: b.predict(r[None, :]) for b in model.boosters]
    for i in range(5):
        np.testing.assert_allclose(model.predict_uplift_row(X[i], predictors)[0], lift[i])


def test_net_choice_and_columns() -> None:
    """Net = uplift * value - cost; treat is the best positive net's arm, else the control."""
    model = _models()["t"]
    lift = np.array([[0.2, 0.1], [0.01, 0.02], [-0.1, 0.3]])
    net = model.net(lift)
    np.testing.assert_allclose(net, [[2.0, 0.5], [0.1, -0.3], [-1.0, 2.5]])
    chosen, best = model.choose(net - 0.5)
    assert chosen.tolist() == [0, -1, 1] and best.tolist() == pytest.approx([1.5, -0.4, 2.0])
    columns = uplift_columns(model, lift, net, chosen)
    assert list(columns) == ["uplift_a", "uplift_b", "net_a", "net_b", "treat"]
    assert columns["treat"].tolist() == ["a", "none_given", "b"]
    assert arm_codes(["b", "none_given", "x"], ("a", "b"), "none_given").tolist() == [2, 0, -1]


@pytest.mark.parametrize("learner", ["s", "t"])
def test_files_load_back_to_the_same_predictions(learner: str, tmp_path: Path) -> None:
    """uplift.json and the LightGBM text files load back to a model that predicts the same."""
    model = _models()[learner]
    files = model.files()
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    again = UpliftModel.load(tmp_path, treatment=TREATMENT, listed=files, version="v0009")
    assert again.learner == learner and again.arms == ("a", "b")
    np.testing.assert_allclose(again.predict_uplift(X[:50]), model.predict_uplift(X[:50]))
    unlisted = {k: v for k, v in files.items() if k != "uplift_0.txt"}
    with pytest.raises(ArtifactError, match=r"does not list uplift_0\.txt"):
        UpliftModel.load(tmp_path, treatment=TREATMENT, listed=unlisted, version="v0009")
    state = json.loads(files["uplift.json"])
    (tmp_path / "uplift.json").write_text(json.dumps({**state, "models": state["models"][:1] * 2}))
    with pytest.raises(ArtifactError, match="lists 2 models"):
        UpliftModel.load(tmp_path, treatment=TREATMENT, listed=files, version="v0009")
