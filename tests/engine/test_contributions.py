"""The tabled contributions (engine.contributions) are LightGBM's ``pred_contrib`` for the
chosen output, on ordinary rows and on every split's edge values; a model they cannot
table, or whose tables disagree with LightGBM, explains with ``pred_contrib`` instead and
gives the same reasons."""

from __future__ import annotations

import logging

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

import tierline.engine.contributions as contributions_module
import tierline.engine.model as model_module
from tests.boosters import small_booster, synthetic_rows
from tests.conftest import EXAMPLES, Trained
from tierline.engine.contributions import (
    Contributions,
    checked_contributions,
    compile_contributions,
)
from tierline.engine.forest_probe import probe_rows
from tierline.engine.model import TierModel
from tierline.engine.registry import Registry
from tierline.engine.spec import load_spec
from tierline.training.data import load_customers
from tierline.training.train import train

BOOSTERS = {
    "class": lambda: small_booster("multiclass"),
    "binary": lambda: small_booster("binary"),
    "value": lambda: small_booster("tweedie", tweedie_variance_power=1.3),
    "zero-as-missing": lambda: small_booster("binary", zero_as_missing=True),
    "no-missing": lambda: small_booster("regression", use_missing=False),
}


@pytest.fixture(scope="module", params=sorted(BOOSTERS))
def booster(request: pytest.FixtureRequest) -> lgb.Booster:
    return BOOSTERS[request.param]()


def _lightgbm_block(booster: lgb.Booster, rows: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """``pred_contrib``'s columns of each row's class: n x (F + 1)."""
    full = np.asarray(booster.predict(rows, pred_contrib=True, num_threads=1))
    width = booster.num_feature() + 1
    return np.stack([full[r, c * width : (c + 1) * width] for r, c in enumerate(classes)])


def test_the_tables_give_lightgbms_contributions_for_the_chosen_output(
    booster: lgb.Booster,
) -> None:
    """For each row and the output chosen for it, every feature's contribution and the bias
    equal ``Booster.predict(pred_contrib=True)``'s to rounding, on ordinary rows and on
    rows taking every split both ways (missing, zero, unseen and out-of-range values)."""
    tabled = compile_contributions(booster.model_to_string(), n_features=booster.num_feature())
    assert isinstance(tabled, Contributions), tabled
    ordinary, _ = synthetic_rows(400, seed=99)
    rows = np.vstack(
        [ordinary, probe_rows(booster.model_to_string(), n_features=booster.num_feature())]
    )
    classes = np.arange(len(rows)) % tabled.per_iteration
    got = tabled.compute(rows, classes)
    want = _lightgbm_block(booster, rows, classes)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    assert np.abs(want[:, :-1]).max() > 0.1  # the rows do move the model


def test_rows_split_over_threads_give_the_one_thread_answer() -> None:
    """``compute`` over several threads fills every row as one thread does, bit for bit."""
    booster = small_booster("multiclass")
    tabled = compile_contributions(booster.model_to_string(), n_features=booster.num_feature())
    assert isinstance(tabled, Contributions)
    rows, _ = synthetic_rows(5000, seed=4)
    classes = np.random.default_rng(0).integers(0, 3, len(rows))
    alone = tabled.compute(rows, classes, threads=1)
    assert alone.tobytes() == tabled.compute(rows, classes, threads=2).tobytes()


def test_a_class_index_out_of_range_is_refused() -> None:
    """A class index that is not one of the model's outputs is a ValueError, not a crash."""
    booster = small_booster("binary")
    tabled = compile_contributions(booster.model_to_string(), n_features=booster.num_feature())
    assert isinstance(tabled, Contributions)
    rows, _ = synthetic_rows(3, seed=1)
    with pytest.raises(ValueError, match="class index"):
        tabled.compute(rows, np.array([0, 1, 0]))


def test_paths_with_too_many_features_are_not_tabled(monkeypatch: pytest.MonkeyPatch) -> None:
    """A model whose leaves' paths would need larger tables than allowed is refused, with why."""
    monkeypatch.setattr(contributions_module, "_MAX_PATH_FEATURES", 1)
    booster = small_booster("binary")
    why = compile_contributions(booster.model_to_string(), n_features=booster.num_feature())
    assert isinstance(why, str) and "distinct features" in why


def test_tables_that_disagree_with_lightgbm_are_not_trusted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The load-time check compares with ``pred_contrib``: a table off by a little fails it."""
    fill_tables, kernel = contributions_module._compiled()

    def skewed(*args: np.ndarray) -> None:
        fill_tables(*args)
        args[-1][len(args[-1]) // 2] += 1e-3  # one table cell of one leaf

    monkeypatch.setattr(contributions_module, "_compiled", lambda: (skewed, kernel))
    booster = small_booster("multiclass")
    why = checked_contributions(booster, n_features=booster.num_feature())
    assert isinstance(why, str) and "differ from LightGBM" in why


def _reasons(model: TierModel, frame: pd.DataFrame) -> list[str]:
    return [str(r) for r in model.score_frame(frame, explain=True)["reasons"]]


@pytest.mark.parametrize("spec_file", ["demo.toml", "binary.toml", "value.toml"])
def test_scored_reasons_are_the_same_as_from_lightgbms_contributions(
    trained: Trained,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    spec_file: str,
) -> None:
    """``score --reasons``'s column on the demo customers (rule-decided and holdout rows
    included) is what LightGBM's ``pred_contrib`` gives, for class, binary and value models."""
    models = trained.models
    if spec_file != "demo.toml":
        models = tmp_path_factory.mktemp("contributions")
        spec = load_spec(EXAMPLES / spec_file)
        train(data_path=trained.data, spec=spec, models=models, promote="always", threads=1)
    model = Registry(models).load()
    frame = load_customers(trained.data, model.spec, with_target=False).head(600)
    assert isinstance(model.contributions(), Contributions)
    tabled = _reasons(model, frame)
    with monkeypatch.context() as patch:
        patch.setattr(model_module, "checked_contributions", lambda *a, **k: "not tabled")
        lightgbm = _reasons(Registry(models).load(), frame)
    assert tabled == lightgbm
    assert sum(bool(r) for r in tabled) > 300  # most rows have reasons to compare


def test_a_model_left_to_lightgbm_says_why_once(
    trained: Trained, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """When the tables cannot serve, one WARNING line says why and the reasons still come."""
    monkeypatch.setattr(contributions_module, "_MAX_PATH_FEATURES", 1)
    model = Registry(trained.models).load()
    frame = load_customers(trained.data, model.spec, with_target=False).head(20)
    with caplog.at_level(logging.WARNING, logger="tierline.model"):
        first = model.score_frame(frame, explain=True)
        model.score_frame(frame, explain=True)
    lines = [r.getMessage() for r in caplog.records if r.name == "tierline.model"]
    assert len(lines) == 1 and "pred_contrib" in lines[0], lines
    assert first["reasons"].str.len().gt(0).any()
