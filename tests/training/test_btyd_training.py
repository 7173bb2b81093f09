"""A transaction log from a known BG/NBD process, trained and scored end to end: the model
against the classic expectation, and the fitted parameters kept for scoring."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from tests.command import run
from tierline.engine.errors import ArtifactError
from tierline.engine.registry import Registry
from tierline.engine.spec import load_spec
from tierline.training.btyd import BgNbd, BtydFit, fit_btyd
from tierline.training.candidates import BTYD_CANDIDATE
from tierline.training.data import load_transactions
from tierline.training.demo_btyd import generate_btyd_log
from tierline.training.evaluate import measure_scored
from tierline.training.gate import gate
from tierline.training.train import TrainResult, train
from tierline.training.transactions import LABEL_COLUMN, scoring_frame, training_frame
from tierline.training.writing import write_table

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser

SPEC = """
[data]
id = "customer_id"

[target]
kind = "value"

[tiers]
names = ["vip", "standard"]
default = "standard"
cuts = [{ tier = "vip", top_fraction = 0.10 }]

[transactions]
customer = "customer_id"
time = "ts"
amount = "amount"
as_of = "2026-06-30"
horizon_days = 90
"""


@pytest.fixture(scope="module")
def btyd_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainResult, Path, Path]:
    """A model trained on 40,000 customers drawn from BG/NBD and Gamma-Gamma."""
    work = tmp_path_factory.mktemp("btyd")
    write_table(generate_btyd_log(40_000, seed=3), work / "log.parquet")
    (work / "spec.toml").write_text(SPEC)
    result = train(
        data_path=work / "log.parquet",
        spec=load_spec(work / "spec.toml"),
        models=work / "models",
        threads=2,
    )
    return result, work, work / "models"


def test_the_model_ranks_top_spenders_at_least_as_well_as_bg_nbd(btyd_model: tuple) -> None:
    """On a log from a known BG/NBD process the model's top-decile precision is at least that
    of the fitted BG/NBD expectation in the same run, and the report shows both."""
    result, _, _ = btyd_model
    classic = result.baselines["bg/nbd"]
    assert result.metrics["top_tier_precision"] >= classic["top_tier_precision"]
    assert result.metrics["top_tier_revenue_share"] >= classic["top_tier_revenue_share"] - 0.01
    assert "bg/nbd" in result.report.splitlines()[1]
    # The bg/nbd candidate ranks exactly as the classic expectation does.
    candidate = next(c for c in result.selection["candidates"] if c["name"] == BTYD_CANDIDATE)
    assert candidate["test"] == pytest.approx(classic["spearman"], abs=1e-12)


def test_parameters_are_fitted_at_the_training_cut_off_and_kept(btyd_model: tuple) -> None:
    """The artifact holds the BG/NBD pair fitted on the history before the training cut-off
    (as_of minus the horizon), not on the whole log."""
    result, work, models = btyd_model
    spec = load_spec(work / "spec.toml")
    log = load_transactions(work / "log.parquet", spec)
    kept = Registry(models).load(result.version).metadata["btyd"]
    expected = fit_btyd(training_frame(log, spec), horizon_days=90).to_dict()
    assert kept == expected
    assert spec.transactions is not None
    later = fit_btyd(scoring_frame(log, spec), horizon_days=90).to_dict()
    assert later["bgnbd"] != kept["bgnbd"]


def test_score_uses_the_kept_parameters_never_a_refit(btyd_model: tuple) -> None:
    """`tierline score` on the log gives each customer the BG/NBD expectations of the kept
    parameters: its scores are the model's on features built with them, and differ from
    what a refit on the scored log would give."""
    result, work, models = btyd_model
    out = work / "scored.parquet"
    proc = run(
        "score", "--data", str(work / "log.parquet"), "--out", str(out),
        "--models", str(models), "--version", result.version, "-q",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    scored = pd.read_parquet(out)
    model = Registry(models).load(result.version)
    spec = model.spec
    log = load_transactions(work / "log.parquet", spec)
    kept = BtydFit.from_dict(model.metadata["btyd"])
    expected = model.score_frame(scoring_frame(log, spec, btyd=kept))
    pd.testing.assert_series_equal(scored["score"], expected["score"], check_names=False)
    frame = scoring_frame(log, spec)
    refit = fit_btyd(frame, horizon_days=90)
    other = model.score_frame(scoring_frame(log, spec, btyd=refit))
    assert not other["score"].equals(scored["score"])


def test_a_model_that_lost_its_parameters_is_refused(btyd_model: tuple) -> None:
    """A model whose features need the BG/NBD pair but whose metadata lacks it is refused
    with a message, not scored with missing expectations."""
    result, _, models = btyd_model
    model = Registry(models).load(result.version)
    with pytest.raises(ArtifactError, match="no BG/NBD parameters"):
        BtydFit.of_model(
            {k: v for k, v in model.metadata.items() if k != "btyd"},
            list(model.features.feature_names_out_),
        )


def test_fit_reads_only_the_history_before_the_cut_off(btyd_model: tuple) -> None:
    """Dropping every transaction after the training cut-off changes neither the training
    features nor the fitted parameters."""
    _, work, _ = btyd_model
    spec = load_spec(work / "spec.toml")
    log = load_transactions(work / "log.parquet", spec)
    assert spec.transactions is not None
    cut = pd.Timestamp(spec.transactions.as_of - dt.timedelta(days=90) + dt.timedelta(days=1))
    full = fit_btyd(training_frame(log, spec), horizon_days=90)
    history = log[log["ts"] < cut]
    frame = scoring_frame(history, spec, as_of=spec.transactions.as_of - dt.timedelta(days=90))
    assert fit_btyd(frame, horizon_days=90) == full


def test_evaluate_builds_the_backtest_with_the_kept_parameters(btyd_model: tuple) -> None:
    """`tierline evaluate` on the log measures every backtest customer with the kept fit and
    reports the model's figures."""
    result, work, models = btyd_model
    proc = run(
        "evaluate", "--data", str(work / "log.parquet"), "--models", str(models),
        "--version", result.version, "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(proc.stdout)["metrics"]
    spec = load_spec(work / "spec.toml")
    customers = len(training_frame(load_transactions(work / "log.parquet", spec), spec))
    assert metrics["rows"] == customers and metrics["spearman"] > 0.2


def test_gate_scores_the_champion_with_its_own_parameters(btyd_model: tuple) -> None:
    """The promotion gate scores the champion with the BG/NBD parameters it was trained with,
    not with the challenger's, which the held-out rows carry."""
    result, work, models = btyd_model
    registry = Registry(models)
    champion = registry.load(result.version)
    spec = champion.spec
    frame = training_frame(load_transactions(work / "log.parquet", spec), spec)
    challenger_fit = BtydFit(
        bgnbd=BgNbd(r=1.0, alpha=20.0, a=0.5, b=5.0),
        gamma_gamma=None,
        horizon_days=90,
        customers=0,
    )
    rows = challenger_fit.applied(frame)
    y = rows[LABEL_COLUMN].to_numpy()
    verdict = gate(
        registry=registry, spec=spec, challenger={"spearman": 0.0}, test_frame=rows,
        y_test=y, tolerance=0.01,
    )  # fmt: skip
    own = BtydFit.from_dict(champion.metadata["btyd"]).applied(frame)
    expected = measure_scored(spec, scored=champion.score_frame(own), y_true=y)["spearman"]
    wrong = measure_scored(spec, scored=champion.score_frame(rows), y_true=y)["spearman"]
    assert verdict["champion"] == pytest.approx(expected, abs=1e-12)
    assert abs(wrong - expected) > 1e-4
