"""Dask: the tree candidates boosted with lightgbm.dask on a two-worker LocalCluster give
the same artifact and the same quality as on one machine; scoring by partition and a
transaction log's features bucket by bucket give the single-machine output; a bad --dask
is refused."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster

from tests.command import assert_refused, run, run_ok
from tests.conftest import EXAMPLES
from tierline.engine.registry import Registry
from tierline.engine.spec import load_spec
from tierline.training.data import load_customers, load_transactions
from tierline.training.demo_data import generate_customers
from tierline.training.demo_transactions import generate_transactions
from tierline.training.distributed import best_round
from tierline.training.train import train
from tierline.training.transaction_buckets import bucketed_features, bucketed_training_frame
from tierline.training.transactions import LABEL_COLUMN, scoring_frame, training_frame
from tierline.training.writing import write_table

pytestmark = pytest.mark.slow  # a Dask LocalCluster of two worker processes

ROWS = 30_000


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A LocalCluster of two one-thread workers; its scheduler's tcp:// address."""
    with LocalCluster(
        n_workers=2, threads_per_worker=1, dashboard_address=None, silence_logs=logging.ERROR
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, scheduler: str) -> dict:
    """The binary demo spec trained on the same customers on one machine and on Dask (the
    first candidate only, so that both compare the same model)."""
    work = tmp_path_factory.mktemp("dask")
    data = work / "customers.parquet"
    write_table(generate_customers(ROWS, seed=11), data)
    spec = load_spec(EXAMPLES / "binary.toml")
    runs = {}
    for name, dask in (("single", None), ("dask", scheduler)):
        runs[name] = train(
            data_path=data,
            spec=spec,
            models=work / name,
            promote="always",
            budget=0,
            threads=1,
            dask=dask,
        )
    return {"work": work, "data": data, **runs}


def test_dask_training_matches_single_machine_quality_and_artifact(trained: dict) -> None:
    """Boosted with lightgbm.dask, the model's held-out AUC is within 0.005 of the
    single-machine one, and its version holds the same files, a LightGBM text model cut at
    the best round, and the same metadata sections."""
    single, dask = trained["single"], trained["dask"]
    assert abs(dask.metrics["roc_auc"] - single.metrics["roc_auc"]) <= 0.005
    assert dask.metrics["roc_auc"] > 0.6
    folders = {name: trained["work"] / name / trained[name].version for name in ("single", "dask")}
    assert sorted(p.name for p in folders["dask"].iterdir()) == sorted(
        p.name for p in folders["single"].iterdir()
    )
    meta = {n: json.loads((f / "metadata.json").read_text()) for n, f in folders.items()}
    assert meta["dask"].keys() == meta["single"].keys()
    assert meta["dask"]["lightgbm"]["dask"]["rounds"] > dask.best_iteration
    booster = lgb.Booster(model_str=(folders["dask"] / "model.txt").read_text())
    assert booster.current_iteration() == dask.best_iteration
    assert dask.report.splitlines()[0] == single.report.splitlines()[0]


def test_best_round_is_the_round_early_stopping_keeps() -> None:
    """For each target kind, the best round read from the validation slice is the round
    with LightGBM's own lowest validation metric."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 5))
    logit = X[:, 0] - 0.5 * X[:, 1] + rng.normal(scale=1.5, size=3000)
    targets = {
        "binary": ((logit > 0).astype(float), {"objective": "binary", "metric": "binary_logloss"}),
        "multiclass": (
            np.digitize(logit, [-1.0, 1.0]).astype(float),
            {"objective": "multiclass", "num_class": 3, "metric": "multi_logloss"},
        ),
        "tweedie": (
            np.where(logit > 0.5, np.exp(logit), 0.0),
            {"objective": "tweedie", "tweedie_variance_power": 1.3, "metric": "tweedie"},
        ),
    }
    for kind, (y, params) in targets.items():
        params = {**params, "learning_rate": 0.3, "verbose": -1, "seed": 1, "num_threads": 1}
        history: dict = {}
        booster = lgb.train(
            params,
            lgb.Dataset(X[:2000], y[:2000]),
            num_boost_round=60,
            valid_sets=[lgb.Dataset(X[2000:], y[2000:])],
            callbacks=[lgb.record_evaluation(history)],
        )
        losses = history["valid_0"][params["metric"]]
        assert best_round(booster, params, X[2000:], y[2000:]) == int(np.argmin(losses)) + 1, kind


def test_score_on_dask_writes_the_single_machine_output(trained: dict, scheduler: str) -> None:
    """score --dask on a folder of two tables writes a folder of Parquet parts whose rows
    are those score_frame gives on one machine, and prints the tier mix as JSON."""
    work = trained["work"]
    customers = generate_customers(600, seed=5).drop(columns=["converted"], errors="ignore")
    tables = work / "tables"
    tables.mkdir()
    write_table(customers.iloc[:350], tables / "a.parquet")
    write_table(customers.iloc[350:], tables / "b.csv")
    out = work / "scored"
    models = str(work / "dask")
    proc = run(
        "score", "--data", str(tables), "--out", str(out), "--models", models,
        "--dask", scheduler, "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    got = pd.read_parquet(out).sort_values("customer_id").reset_index(drop=True)
    assert summary["rows"] == len(got) == 600
    model = Registry(work / "dask").load()
    frames = [
        load_customers(tables / n, model.spec, with_target=False) for n in ("a.parquet", "b.csv")
    ]
    want = model.score_frame(pd.concat(frames, ignore_index=True))
    want = want.sort_values("customer_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got[want.columns.tolist()], want, check_dtype=False)
    assert summary["tier_mix"] == {t: int(n) for t, n in want["tier"].value_counts().items()}


def test_train_and_retrain_cli_on_dask_keep_stdout_json(trained: dict, scheduler: str) -> None:
    """train --dask --json and retrain --dask each print one JSON line on stdout (the
    workers' output stays off it) and write a version with the Dask rounds recorded."""
    work = trained["work"]
    common = ("--data", str(trained["data"]), "--spec", str(EXAMPLES / "binary.toml"))
    common += ("--budget", "0", "--dask", scheduler)
    for command, extra in (("train", ("--json",)), ("retrain", ())):
        models = work / f"cli-{command}"
        proc = run(command, *common, "--models", str(models), *extra)
        assert proc.returncode == 0, proc.stderr
        summary = json.loads(proc.stdout)
        assert not summary.get("skipped")
        meta = json.loads((models / summary["version"] / "metadata.json").read_text())
        assert meta["lightgbm"]["dask"]["rounds"] > 0


def test_bad_dask_addresses_are_refused(tmp_path: Path, trained: dict) -> None:
    """--dask takes local or a reachable tcp:// scheduler; anything else exits 2 with a
    message, and an --out folder already holding files is refused before any work."""
    args = ("train", "--data", str(trained["data"]), "--spec", str(EXAMPLES / "binary.toml"))
    args += ("--models", str(tmp_path / "m"))
    assert_refused(run(*args, "--dask", "nowhere"), "--dask takes 'local'")
    assert_refused(run(*args, "--dask", "tcp://127.0.0.1:9"), "no Dask scheduler answered")
    full = tmp_path / "full"
    full.mkdir()
    (full / "x.parquet").write_bytes(b"")
    proc = run(
        "score", "--data", str(trained["data"]), "--out", str(full),
        "--models", str(trained["work"] / "dask"), "--dask", "local",
    )  # fmt: skip
    assert_refused(proc, "is not empty")


def test_bucketed_transaction_features_equal_the_single_machine_ones(
    tmp_path: Path, scheduler: str
) -> None:
    """A log split by rows over three files (customers spanning files) gives, bucket by
    bucket on the cluster, exactly the single-machine features: with the backtest's label
    and at the scoring cut-off."""
    spec = load_spec(EXAMPLES / "transactions.toml")
    log = generate_transactions(generate_customers(1500, seed=2), seed=2)
    folder = tmp_path / "log"
    folder.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(log)), 3)):
        write_table(log.iloc[rows], folder / f"part{i}.parquet")
    write_table(log, tmp_path / "log.parquet")
    whole = load_transactions(tmp_path / "log.parquet", spec)
    with Client(scheduler) as client:
        got = bucketed_training_frame(folder, spec, client=client)
        pd.testing.assert_frame_equal(got, training_frame(whole, spec))
        assert got[LABEL_COLUMN].gt(0).any() and got[LABEL_COLUMN].eq(0).any()
        tx = spec.transactions
        assert tx is not None
        scored = bucketed_features(folder, spec, as_of=tx.as_of, client=client, buckets=5)
        pd.testing.assert_frame_equal(scored, scoring_frame(whole, spec))


def test_score_on_dask_scores_a_transaction_log_as_one_machine_does(
    tmp_path: Path, scheduler: str
) -> None:
    """A transaction log model scores a folder of semicolon CSVs with decimal commas on
    Dask, at a given --as-of, exactly as one machine scores the whole log; a customer
    table's model refuses --as-of there as it does on one machine."""
    spec_path = EXAMPLES / "transactions.toml"
    log = generate_transactions(generate_customers(1500, seed=4), seed=4)
    whole = tmp_path / "log.parquet"
    write_table(log, whole)
    models = tmp_path / "models"
    run_ok("train", "--data", str(whole), "--spec", str(spec_path), "--models", str(models),
           "--budget", "0")  # fmt: skip
    folder = tmp_path / "log"
    folder.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(log)), 3)):
        log.iloc[rows].to_csv(folder / f"part{i}.csv", sep=";", decimal=",", index=False)
    tx = load_spec(spec_path).transactions
    assert tx is not None
    as_of = str(tx.as_of - dt.timedelta(days=30))
    one = tmp_path / "one.csv"
    run_ok("score", "--data", str(whole), "--out", str(one), "--models", str(models),
           "--as-of", as_of)  # fmt: skip
    many = tmp_path / "many.parquet"
    proc = run("score", "--data", str(folder), "--out", str(many), "--models", str(models),
               "--as-of", as_of, "--sep", ";", "--decimal", ",", "--dask", scheduler, "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    want = pd.read_csv(one, dtype={"customer_id": str}).sort_values("customer_id")
    want = want.reset_index(drop=True)
    got = pd.read_parquet(many).sort_values("customer_id").reset_index(drop=True)
    assert json.loads(proc.stdout)["rows"] == len(want) > 500
    pd.testing.assert_frame_equal(
        got[want.columns.tolist()], want, check_dtype=False, check_exact=False
    )


def test_score_on_dask_refuses_as_of_for_a_customer_table_model(trained: dict) -> None:
    proc = run(
        "score", "--data", str(trained["data"]), "--out", str(trained["work"] / "x.parquet"),
        "--models", str(trained["work"] / "dask"), "--dask", "local", "--as-of", "2024-01-01",
    )  # fmt: skip
    assert_refused(proc, "--as-of applies to models trained on a transaction log")


def test_the_whole_search_on_dask_says_why_the_additive_candidate_is_not_tried(
    tmp_path: Path, scheduler: str
) -> None:
    """LightGBM's distributed learner fails on interaction constraints, so the additive
    candidate is reported as not tried on Dask, with the reason, and the others compete."""
    data = tmp_path / "customers.parquet"
    write_table(generate_customers(3000, seed=12), data)
    result = train(
        data_path=data,
        spec=load_spec(EXAMPLES / "binary.toml"),
        models=tmp_path / "models",
        promote="always",
        budget=3600,
        threads=1,
        dask=scheduler,
    )
    tried = {c["name"]: c for c in result.selection["candidates"]}
    assert "interaction constraints" in tried["additive"]["error"]
    assert "error" not in tried["regularized"] and "error" not in tried["shallow"]
    assert "not tried on Dask" in result.report
