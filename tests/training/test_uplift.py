"""Uplift models trained on the demo perk experiment: ranking, intervals, cost, artifact, scoring."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from tests.conftest import EXAMPLES
from tierline.engine.errors import ArtifactError, DataError
from tierline.engine.model import TierModel
from tierline.engine.registry import Registry
from tierline.engine.spec import Spec, load_spec, parse_spec
from tierline.training.demo_uplift import ARMS, CONTROL, generate_experiment, true_uplift
from tierline.training.prepare import prepare
from tierline.training.train import TrainResult, train
from tierline.training.writing import write_table

pytestmark = pytest.mark.slow  # trains uplift models on thousands of customers


@dataclass(frozen=True)
class Experiment:
    data: Path
    models: Path
    spec: Spec
    result: TrainResult
    model: TierModel


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> Experiment:
    """An uplift model trained on 20,000 demo customers of the perk experiment."""
    folder = tmp_path_factory.mktemp("uplift")
    data = folder / "experiment.csv"
    write_table(generate_experiment(20_000, seed=5), data)
    spec = load_spec(EXAMPLES / "uplift.toml")
    result = train(data_path=data, spec=spec, models=folder / "models", promote="always")
    model = Registry(folder / "models").load()
    return Experiment(data=data, models=folder / "models", spec=spec, result=result, model=model)


def test_uplift_ranks_the_truly_moved_customers_first(experiment: Experiment) -> None:
    """On held-out customers the uplift model's Qini is well above the response ranking's,
    and its coffee uplift follows the true effect."""
    figures = Registry(experiment.models).metadata(experiment.result.version)["uplift"]
    for arm in ARMS:
        uplift, response = figures["per_arm"][arm]["uplift"], figures["per_arm"][arm]["response"]
        assert uplift["qini"]["value"] > response["qini"]["value"] + 0.03, arm
        assert uplift["uplift_at"]["10%"]["value"] > response["uplift_at"]["10%"]["value"], arm
    coffee = figures["per_arm"]["coffee"]
    assert coffee["uplift"]["qini"]["low"] > coffee["response"]["qini"]["high"]
    prep = prepare(experiment.data, experiment.spec)
    test = prep.frame.iloc[prep.test_idx]
    scored = experiment.model.score_frame(test)
    truth = true_uplift(test)
    assert spearmanr(scored["uplift_coffee"], truth["coffee"]).statistic > 0.6


def test_report_intervals_cover_the_known_average_effect(experiment: Experiment) -> None:
    """Each arm's average effect interval on the held-out customers covers their true mean effect."""
    meta = Registry(experiment.models).metadata(experiment.result.version)["uplift"]
    prep = prepare(experiment.data, experiment.spec)
    truth = true_uplift(prep.frame.iloc[prep.test_idx])
    for arm in ARMS:
        cell = meta["per_arm"][arm]["average_effect"]
        assert cell["low"] <= float(truth[arm].mean()) <= cell["high"], (arm, cell)
        assert cell["low"] < cell["value"] < cell["high"]
    values = meta["value_per_1000"]
    assert set(values) == {"model", "response", "everyone", "no_one"}
    assert values["model"]["value"] > values["no_one"]["value"]
    assert meta["resamples"] == 200 and meta["rows"] == len(prep.test_idx)


def test_report_shows_the_uplift_figures(experiment: Experiment) -> None:
    """The train report has the Qini, uplift at 10/20/30 % and the four policies' values."""
    report = experiment.result.report
    for needle in (
        "normalized Qini",
        "uplift at top 10%",
        "uplift at top 30%",
        "response ranking, same share",
        "treat everyone",
        "treat no one",
        f"arm 'coffee' vs control '{CONTROL}'",
    ):
        assert needle in report


def test_learner_is_chosen_on_validation_qini_and_stored_as_lightgbm_text(
    experiment: Experiment,
) -> None:
    """Both learners are scored on the validation rows, the better one is kept, and its
    LightGBM text files and uplift.json are in the manifest."""
    registry = Registry(experiment.models)
    meta = registry.metadata(experiment.result.version)["uplift"]
    scores = meta["validation_qini"]
    assert set(scores) == {"s", "t"}
    assert meta["learner"] == max(scores, key=lambda k: scores[k])
    listed = registry.verify(experiment.result.version)
    layout = json.loads((experiment.models / experiment.result.version / "uplift.json").read_text())
    assert layout["arms"] == list(ARMS) and layout["control"] == CONTROL
    for name in ["uplift.json", *layout["models"]]:
        assert name in listed
    for name in layout["models"]:
        text = (experiment.models / experiment.result.version / name).read_text()
        assert text.startswith("tree\n")


def _copy_version(experiment: Experiment, tmp_path: Path) -> Path:
    models = tmp_path / "models"
    shutil.copytree(experiment.models / experiment.result.version, models / "v0001")
    for p in (models / "v0001").iterdir():
        os.chmod(p, 0o644)
    return models


def test_a_tampered_or_unlisted_uplift_file_is_refused(
    experiment: Experiment, tmp_path: Path
) -> None:
    """Changing an uplift model file, or dropping uplift.json from the manifest, stops the load."""
    models = _copy_version(experiment, tmp_path)
    with (models / "v0001" / "uplift_0.txt").open("a") as fh:
        fh.write("\n")
    with pytest.raises(ArtifactError, match=r"uplift_0\.txt does not match"):
        Registry(models).load("v0001")
    models = _copy_version(experiment, tmp_path / "again")
    manifest = json.loads((models / "v0001" / "manifest.json").read_text())
    del manifest["files"]["uplift.json"]
    (models / "v0001" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=r"does not list uplift\.json"):
        Registry(models).load("v0001")


def test_scoring_needs_neither_arm_nor_outcome_and_writes_uplift_columns(
    experiment: Experiment,
) -> None:
    """Scored rows carry uplift_<arm>, net_<arm> = uplift * value - cost and the best paying
    arm in treat; the tiers cut on that best net value."""
    frame = pd.read_csv(experiment.data, dtype=str).drop(columns=["perk", "returned_90d"])
    spec = experiment.spec
    assert spec.treatment is not None
    scored = experiment.model.score_frame(frame.head(3000))
    for arm in ARMS:
        net = scored[f"uplift_{arm}"] * 40.0 - spec.treatment.cost_of(arm)
        np.testing.assert_allclose(scored[f"net_{arm}"], net)
    nets = scored[[f"net_{a}" for a in ARMS]].to_numpy()
    best = np.where(
        nets.max(axis=1) > 0, np.array(ARMS, dtype=object)[nets.argmax(axis=1)], CONTROL
    )
    assert scored["treat"].tolist() == best.tolist()
    assert set(scored["treat"]) == {*ARMS, CONTROL}
    threshold = dict(experiment.model.policy.thresholds)["treat"]
    np.testing.assert_array_equal(scored["tier"] == "treat", nets.max(axis=1) >= threshold)
    assert 0.2 < float(np.mean(scored["tier"] == "treat")) < 0.4


def test_one_customer_gets_the_same_tier_as_in_a_batch(experiment: Experiment) -> None:
    """The single-record path (compiled one-row uplift models) cuts on the same best net
    value as the batch path."""
    frame = pd.read_csv(experiment.data, dtype=str).head(50)
    scored = experiment.model.score_frame(frame)
    for i, row in frame.iterrows():
        one = experiment.model.score_record(row.to_dict(), customer_id=row["customer_id"])
        assert one.tier == scored["tier"][i]
        assert one.score == pytest.approx(scored["score"][i])
        assert one.confidence == pytest.approx(scored["confidence"][i])


def test_treat_follows_cost(experiment: Experiment) -> None:
    """A cost above any perk's value sends everyone to the control; a costlier dessert is
    given to fewer customers."""
    model = experiment.model
    assert model.uplift is not None and experiment.spec.treatment is not None
    frame = pd.read_csv(experiment.data, dtype=str).head(3000)
    X = model.features.transform(frame)
    lift = model.uplift.predict_uplift(X)

    def treat_with(cost: dict[str, float]) -> np.ndarray:
        treatment = dataclasses.replace(experiment.spec.treatment, cost=cost)
        uplift = dataclasses.replace(model.uplift, treatment=treatment)
        chosen, _ = uplift.choose(uplift.net(lift))
        return np.asarray(uplift.arm_names(chosen))

    assert set(treat_with({"coffee": 1e6, "dessert": 1e6})) == {CONTROL}
    cheap, dear = treat_with({"dessert": 0.0}), treat_with({"dessert": 10.0})
    assert np.sum(dear == "dessert") < np.sum(cheap == "dessert")


def test_value_target_learns_uplift_in_money(tmp_path: Path) -> None:
    """With a value target the uplift is money: net = uplift - cost, and coffee's ranking
    beats the response ranking."""
    data = tmp_path / "experiment.csv"
    write_table(generate_experiment(12_000, seed=8), data)
    raw = load_spec(EXAMPLES / "uplift.toml").to_dict()
    raw["target"] = {"kind": "value", "column": "spend_next_90d"}
    del raw["treatment"]["value"]
    spec = parse_spec(raw)
    result = train(data_path=data, spec=spec, models=tmp_path / "models", promote="always")
    meta = Registry(tmp_path / "models").metadata(result.version)["uplift"]
    coffee = meta["per_arm"]["coffee"]
    assert coffee["uplift"]["qini"]["value"] > coffee["response"]["qini"]["value"]
    model = Registry(tmp_path / "models").load()
    scored = model.score_frame(pd.read_csv(data, dtype=str).head(500))
    np.testing.assert_allclose(scored["net_coffee"], scored["uplift_coffee"] - 1.5)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"control": "nobody"}, "control 'nobody' does not appear in column 'perk'"),
        ({"cost": {"cake": 1.0}}, "cost names arm 'cake', which no row"),
    ],
)
def test_experiment_that_does_not_fit_the_spec_is_refused(
    tmp_path: Path, change: dict[str, object], needle: str
) -> None:
    """A control or a costed arm absent from the data is a DataError naming it."""
    data = tmp_path / "experiment.csv"
    write_table(generate_experiment(600, seed=2), data)
    raw = load_spec(EXAMPLES / "uplift.toml").to_dict()
    raw["treatment"].update(change)
    with pytest.raises(DataError, match=needle):
        train(data_path=data, spec=parse_spec(raw), models=tmp_path / "models", threads=1)


def test_missing_arms_are_refused(tmp_path: Path) -> None:
    """A customer without an arm cannot be part of the experiment."""
    frame = generate_experiment(600, seed=2)
    frame.loc[7, "perk"] = None
    data = tmp_path / "experiment.csv"
    write_table(frame, data)
    spec = load_spec(EXAMPLES / "uplift.toml")
    with pytest.raises(DataError, match="has no arm in 1 rows \\(first: row 8\\)"):
        train(data_path=data, spec=spec, models=tmp_path / "models", threads=1)


def test_extra_artifact_files_may_not_replace_the_standard_ones(tmp_path: Path) -> None:
    """An extra file named like model.txt or the manifest is refused before anything is written."""
    registry = Registry(tmp_path / "models")
    for name in ("model.txt", "manifest.json", "../x.txt"):
        with pytest.raises(ValueError, match="would overwrite another"):
            registry.write(
                booster_text="",
                features={},
                policy={},
                playbook_text="",
                metadata={},
                extra_files={name: "x"},
            )
    assert registry.versions() == []
