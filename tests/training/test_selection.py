"""Model selection: candidates measured on the newest slice of the training period, the best
serves, a linear winner is served from JSON through the same engine paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.drift_data import SPEC, drifting_customers
from tierline.engine.registry import Registry
from tierline.engine.spec import load_spec
from tierline.training.candidates import CANDIDATES
from tierline.training.train import TrainResult, train
from tierline.training.writing import write_table

pytestmark = pytest.mark.slow  # fits every candidate model


@pytest.fixture(scope="module")
def drifted(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainResult, Path, pd.DataFrame]:
    """A model trained on customers whose market shifted before the validation slice."""
    work = tmp_path_factory.mktemp("drift")
    frame = drifting_customers(20_000)
    write_table(frame, work / "customers.csv")
    (work / "spec.toml").write_text(SPEC)
    result = train(
        data_path=work / "customers.csv", spec=load_spec(work / "spec.toml"), models=work / "models"
    )
    return result, work / "models", frame


def test_the_selected_model_never_loses_to_the_logistic_baseline(drifted: tuple) -> None:
    """On the newest customers, after a shift that undoes an interaction, the selected model
    is at least as good as the logistic baseline, every candidate is reported with its
    validation and test figures, and the winner is the best on validation."""
    result, _, _ = drifted
    assert result.metrics["roc_auc"] >= result.baselines["logistic"]["roc_auc"] - 0.002
    selection = result.selection
    names = [c["name"] for c in selection["candidates"]]
    assert names == list(CANDIDATES)
    best = max(selection["candidates"], key=lambda c: c["valid"])
    assert selection["winner"] == best["name"] != "lightgbm"
    default = next(c for c in selection["candidates"] if c["name"] == "lightgbm")
    assert best["test"] > default["test"]
    assert "model selection (roc_auc" in result.report and f"* {best['name']}" in result.report


def test_a_linear_winner_serves_from_json_with_exact_reasons(drifted: tuple) -> None:
    """The linear winner is stored as linear.json (no model.txt); one customer and a batch
    score alike, and a customer's reasons are the largest of its exact contributions."""
    result, models, frame = drifted
    if result.selection["winner"] != "linear":
        pytest.fail(f"expected the linear candidate to win here: {result.selection}")
    folder = models / result.version
    assert (folder / "linear.json").is_file() and not (folder / "model.txt").exists()
    model = Registry(models).load(result.version)
    rows = frame.tail(50).reset_index(drop=True)
    batch = model.score_frame(rows)
    for i in (0, 17, 49):
        record = {k: v for k, v in rows.iloc[i].items() if k not in ("returned", "signup_date")}
        one = model.score_record(record, customer_id=record["customer_id"], explain=True)
        assert one.tier == batch.loc[i, "tier"]
        assert np.isclose(one.score, batch.loc[i, "score"], rtol=1e-12)
        effects = [abs(r.effect) for r in one.reasons]
        assert effects == sorted(effects, reverse=True) and effects[0] > 0


def test_a_budget_of_nothing_tries_only_the_default(tmp_path: Path) -> None:
    """With no time to spare the search keeps the default candidate and says what it did
    not try."""
    write_table(drifting_customers(3_000, seed=4), tmp_path / "c.csv")
    (tmp_path / "spec.toml").write_text(SPEC)
    result = train(
        data_path=tmp_path / "c.csv",
        spec=load_spec(tmp_path / "spec.toml"),
        models=tmp_path / "models",
        budget=0.0,
    )
    selection = result.selection
    assert selection["winner"] == "lightgbm" and selection["skipped"] == list(CANDIDATES[1:])
    assert "not tried within the 0s budget" in result.report


def test_a_declared_direction_binds_whichever_candidate_wins(tmp_path: Path) -> None:
    """x0 raises the return rate, but the spec declares it may only lower the score: the
    served model's score never rises with x0, whichever candidate won."""
    write_table(drifting_customers(5_000, seed=6), tmp_path / "c.csv")
    spec_text = SPEC.replace('"x10", "x11"]\n', '"x10", "x11"]\nmonotone = { x0 = -1, x1 = 1 }\n')
    (tmp_path / "spec.toml").write_text(spec_text)
    spec = load_spec(tmp_path / "spec.toml")
    assert spec.monotone == {"x0": -1, "x1": 1}
    result = train(data_path=tmp_path / "c.csv", spec=spec, models=tmp_path / "models")
    model = Registry(tmp_path / "models").load(result.version)
    grid = pd.DataFrame({"x0": np.linspace(-3, 3, 25)})
    for name in [f"x{i}" for i in range(1, 12)]:
        grid[name] = 0.3
    grid["channel"] = "ch2"
    scores = model.score_frame(grid)["score"].to_numpy()
    assert (np.diff(scores) <= 1e-12).all(), (result.selection["winner"], scores)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("monotone = { channel = 1 }", "'channel', which is not a numeric or boolean feature"),
        ("monotone = { x0 = 2 }", "x0 = 2; use 1"),
        ("monotone = [1]", "must be a table"),
    ],
)
def test_a_bad_monotone_table_is_refused(tmp_path: Path, table: str, message: str) -> None:
    """A direction on a category, a direction other than 1 or -1, or a list: SpecError
    naming it."""
    from tierline.engine.errors import SpecError

    (tmp_path / "spec.toml").write_text(
        SPEC.replace('"x10", "x11"]\n', f'"x10", "x11"]\n{table}\n')
    )
    with pytest.raises(SpecError, match=message):
        load_spec(tmp_path / "spec.toml")


def test_a_tree_candidate_still_boosting_when_the_budget_runs_out_stops_at_its_best_round(
    tmp_path: Path,
) -> None:
    """The budget bounds a started candidate too: past the deadline boosting ends, the
    booster keeps its best round so far, and the report says it was cut."""
    import lightgbm as lgb

    from tierline.training.candidates import BestRound, Candidate
    from tierline.training.evaluate import format_selection
    from tierline.training.selection import _start

    rng = np.random.default_rng(3)
    X = rng.normal(size=(2_000, 4))
    y = (X[:, 0] + rng.normal(scale=0.5, size=2_000) > 0).astype(float)
    dtrain = lgb.Dataset(X[:1_500], y[:1_500])
    dvalid = lgb.Dataset(X[1_500:], y[1_500:], reference=dtrain)
    params = {"objective": "binary", "verbose": -1, "num_threads": 1}

    def boosted(deadline: BestRound) -> lgb.Booster:
        return lgb.train(
            params, dtrain, num_boost_round=500, valid_sets=[dvalid], callbacks=[deadline]
        )

    free = BestRound(None)
    assert boosted(free).current_iteration() == 500 and not free.stopped
    passed = BestRound(0.0)  # the deadline has gone before the first round ends
    cut = boosted(passed)
    assert passed.stopped and cut.best_iteration == 1
    summary = Candidate(name="regularized", model=cut, stopped_at_budget=True).summary()
    text = format_selection({"metric": "roc_auc", "winner": "lightgbm", "candidates": [summary]})
    assert "stopped at the budget" in text
    # A candidate whose turn comes after the deadline is not tried at all.
    late = _start("shallow", lambda: Candidate(name="shallow", model=cut), deadline=0.0)
    on_time = _start("shallow", lambda: Candidate(name="shallow", model=cut), deadline=1e12)
    assert late is None and on_time is not None and on_time.name == "shallow"


@pytest.mark.parametrize(
    ("objective", "extra"),
    [
        ("binary", {}),
        ("multiclass", {"num_class": 3}),
        ("regression", {}),
        ("poisson", {}),
        ("cross_entropy", {}),
    ],
)
def test_the_validation_predictions_kept_from_boosting_are_those_predict_gives(
    objective: str, extra: dict[str, Any]
) -> None:
    """The winner's validation scores come from boosting itself, not a second prediction:
    for every objective, with a categorical signal holding codes the training rows never
    saw and missing values, they equal ``Booster.predict`` at the best round."""
    import lightgbm as lgb

    from tierline.training.candidates import BestRound

    rng = np.random.default_rng(11)
    n = 3_000
    X = rng.normal(size=(n, 4))
    X[:, 3] = rng.integers(0, 6, size=n)
    X[2_400:, 3] = np.where(rng.random(n - 2_400) < 0.2, 9.0, X[2_400:, 3])  # unseen codes
    X[rng.random(n) < 0.05, 1] = np.nan
    signal = X[:, 0] + 0.3 * X[:, 3] + rng.normal(scale=0.5, size=n)
    if objective == "multiclass":
        y = np.digitize(signal, np.quantile(signal, [1 / 3, 2 / 3])).astype(float)
    elif objective in ("binary", "cross_entropy"):
        y = (signal > 0).astype(float)
    elif objective == "poisson":
        y = rng.poisson(np.exp(0.3 * np.nan_to_num(signal))).astype(float)
    else:
        y = signal
    dtrain = lgb.Dataset(X[:2_400], y[:2_400], categorical_feature=[3], free_raw_data=False)
    dvalid = lgb.Dataset(X[2_400:], y[2_400:], reference=dtrain)
    params = {"objective": objective, "verbose": -1, "num_threads": 1, **extra}
    watch = BestRound(None)
    booster = lgb.train(
        params,
        dtrain,
        num_boost_round=300,
        valid_sets=[dvalid],
        callbacks=[lgb.early_stopping(10, verbose=False), watch],
    )
    best = booster.best_iteration
    kept = watch.valid_scores(booster, best, X[2_400:])
    assert kept is not None
    assert 1 <= best < 300 or objective == "regression"
    np.testing.assert_allclose(kept, booster.predict(X[2_400:], num_iteration=best), rtol=1e-12)
    # Predictions of another round are never passed off as the best round's.
    assert watch.valid_scores(booster, best + 1, X[2_400:]) is None
    watch.kept = kept + 1e-6
    assert watch.valid_scores(booster, best, X[2_400:]) is None


def _small_tree() -> tuple[Any, dict[str, np.ndarray]]:
    """A tree candidate fitted by ``fit_tree`` on a small binary problem with one
    categorical signal, and its validation rows."""
    from types import SimpleNamespace

    from tierline.training.candidates import fit_tree

    rng = np.random.default_rng(5)
    n = 3_000
    X = rng.normal(size=(n, 3))
    X[:, 0] = rng.integers(0, 5, size=n)  # category codes, first as the spec orders them
    y = (X[:, 1] + 0.3 * X[:, 0] + rng.normal(scale=0.5, size=n) > 0).astype(float)
    parts = {"train": slice(0, 2_000), "valid": slice(2_000, 2_500), "test": slice(2_500, n)}
    Xs, ys = {k: X[p] for k, p in parts.items()}, {k: y[p] for k, p in parts.items()}
    spec: Any = SimpleNamespace(categorical=("code",))
    params = {"objective": "binary", "verbose": -1, "seed": 1}
    cand = fit_tree("lightgbm", params, {}, None, Xs, ys, spec, ["code", "a", "b"], threads=1)
    return cand, Xs


_INNER = "_Booster__inner_predict"  # LightGBM's private name for Booster.__inner_predict


def test_without_lightgbm_s_private_predictions_a_tree_candidate_predicts_its_validation_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A LightGBM without the private call still trains the same candidate, keeps no
    validation scores of its own, and the predictions selection then makes are those the
    private call gave."""
    import lightgbm as lgb

    from tierline.training.selection import predict

    kept, _ = _small_tree()
    assert "valid" in kept.scores  # this LightGBM has the call: the fast path is taken
    monkeypatch.delattr(lgb.Booster, _INNER, raising=False)
    fallback, X = _small_tree()
    assert fallback.scores == {} and fallback.best_iteration == kept.best_iteration
    np.testing.assert_allclose(predict(fallback, X["valid"]), kept.scores["valid"], rtol=1e-12)


@pytest.mark.parametrize("wrong", ["shifted", "short", "raises"])
def test_private_predictions_that_disagree_with_predict_are_not_kept(
    monkeypatch: pytest.MonkeyPatch, wrong: str
) -> None:
    """When LightGBM's private call answers values ``Booster.predict`` does not give (or too
    few rows, or an error), the candidate keeps none and selection predicts them instead."""
    import lightgbm as lgb

    real = getattr(lgb.Booster, _INNER)

    def inner(self: lgb.Booster, data_idx: int) -> np.ndarray:
        if wrong == "raises":
            raise lgb.basic.LightGBMError("no such data")
        answer = np.asarray(real(self, data_idx))
        return answer + 1e-3 if wrong == "shifted" else answer[: len(answer) // 2]

    monkeypatch.setattr(lgb.Booster, _INNER, inner)
    cand, _ = _small_tree()
    assert cand.best_iteration is not None and cand.best_iteration >= 1
    assert cand.scores == {}
